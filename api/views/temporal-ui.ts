/** Where the Temporal UI is: its base URL (config TEMPORAL_UI_URL) and the namespace the workflows run in. */
export interface TemporalUi {
  temporalUiUrl: string;
  namespace: string;
}

/** A link to a workflow (or one run of it) in the Temporal UI. */
export function temporalUiLink(ui: TemporalUi, workflowId: string, runId?: string): string {
  return `${ui.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(ui.namespace)}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}`;
}
