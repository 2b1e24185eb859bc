import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Typed keys of the node's custom search attributes (registered by ensureSearchAttributes). */
export const StoreIdKey = defineSearchAttributeKey('StoreId', SearchAttributeType.KEYWORD);
export const PeerIdKey = defineSearchAttributeKey('PeerId', SearchAttributeType.KEYWORD);
export const DeviceIdKey = defineSearchAttributeKey('DeviceId', SearchAttributeType.KEYWORD);
