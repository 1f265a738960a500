/** The `<lora:…>` prompt syntax is shared with the UI (its picker), so it lives in the protocol. */
export * from '../../../protocol/lora-tags';
