import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { SEARCH_ATTRIBUTES } from '../workflows/shared';

/**
 * The custom search attributes the Temporal UI filters on. The list itself lives next to the typed keys the
 * workflows upsert (workflows/shared.ts), so registering and upserting cannot drift apart; this module
 * turns it into what the dev server, the CLI and a readiness check need.
 */
export { SEARCH_ATTRIBUTES };

export type SearchAttributeCliType = (typeof SEARCH_ATTRIBUTES)[string];

const SDK_TYPE = { Int: 'INT', Keyword: 'KEYWORD', KeywordList: 'KEYWORD_LIST' } as const;

/** `--search-attribute Name=Type` pairs for `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

/** The commands that register the attributes on a Temporal server the launcher does not own. */
export function searchAttributeCreateCommands(address: string, namespace: string): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).map(
    ([name, type]) =>
      `temporal operator search-attribute create --address ${address} --namespace ${namespace} --name ${name} --type ${type}`,
  );
}

/**
 * Names that are absent or registered with another type, given `customAttributes` from
 * `operatorService.listSearchAttributes` (values are the proto's IndexedValueType numbers).
 */
export function missingSearchAttributes(registered: Record<string, number | null | undefined>): string[] {
  return Object.entries(SEARCH_ATTRIBUTES)
    .filter(([name, type]) => registered[name] !== encodeSearchAttributeIndexedValueType(SDK_TYPE[type]))
    .map(([name]) => name);
}
