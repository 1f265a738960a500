/** LoRAs merged into a model folder's UNet and text-encoder weights (see merge.ts). */
export { LoraApplyError, loraFolder, type FolderReader, type LoraFolder, type LoraFolderOptions, type LoraReport, type LoraToApply, type MatrixProduct } from './merge';
export { findWeightTargets, modulePath, MODEL_FILE, type GraphWeights, type WeightTarget, type WeightType } from './onnx-weights';
export { loraAddnetHash, shortHash, SHORT_HASH_LENGTH } from './hash';
