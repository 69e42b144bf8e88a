/**
 * Diagnostics: tenantry's `node:diagnostics_channel` channels. The package exports the channel
 * names and the message types; publishers stay internal.
 */
export { TENANTRY_CHANNELS } from './channels.js';
export type {
  PoolEvictMessage,
  PoolOpenMessage,
  ProvisioningStepMessage,
  QuotaCheckMessage,
  QuotaOperation,
  QuotaStoreErrorMessage,
  ResolveMessage,
  ResolveOutcome,
  TenantRejectedMessage,
  TenantryChannelMessages,
  TenantryChannelName,
} from './channels.js';
