/**
 * Moved: stores live in `core/repositories/stores.ts`, devices in `core/repositories/devices.ts`.
 * Kept only until `api/routes/sync.ts` imports from there (it is being rewritten on another branch).
 */
export { declareStore, findStore } from '../repositories/stores';
