// Workflow and schedule ids of the ERP bridge. Job ids are UUIDs and vendor ids contain no ':'
// (domain/erp/schemas.ts), so the ids are unique per job and per vendor. Unlike the federation's
// actors the two workflow ids carry no node id: a job id is unique across nodes, and the vendor's
// reconcile id is its lock by design. Two nodes never share a namespace anyway: the schedules carry
// the node id, and the start-up guard (actors/namespace-guard.ts) refuses a namespace holding another
// node's schedules. Pure: imported by workflows.

/** ErpOrderDelivery of one sync job. */
export const erpOrderWorkflowId = (jobId: string): string => `erp-order:${jobId}`;

/** VendorReconcile of one vendor: the id is the lock (one run per vendor at a time). */
export const erpReconcileWorkflowId = (vendorId: string): string => `erp-reconcile:${vendorId}`;

/** The ERP schedules of a node; also the ids of the workflows they start (the server appends a timestamp). */
export const erpScheduleId = (nodeId: string, task: string): string => `${nodeId}:erp-${task}`;
