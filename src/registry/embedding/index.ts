export * from './folder';
export * from './load';
export * from './token-table';
