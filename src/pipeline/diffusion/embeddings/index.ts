export * from './embedding';
export * from './tokenizer';
