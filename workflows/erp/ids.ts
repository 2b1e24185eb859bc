// Workflow and schedule ids of the ERP bridge. Job ids are UUIDs and vendor ids contain no ':'
// (domain/erp/schemas.ts), so the ids are unique per job and per vendor. Pure: imported by workflows.

/** ErpOrderDelivery of one sync job. */
export const erpOrderWorkflowId = (jobId: string): string => `erp-order:${jobId}`;

/** VendorReconcile of one vendor: the id is the lock (one run per vendor at a time). */
export const erpReconcileWorkflowId = (vendorId: string): string => `erp-reconcile:${vendorId}`;

/** The ERP schedules of a node; also the ids of the workflows they start (the server appends a timestamp). */
export const erpScheduleId = (nodeId: string, task: string): string => `${nodeId}:erp-${task}`;
