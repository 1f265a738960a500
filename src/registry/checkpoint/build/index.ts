/** The checkpoint graph builder: a CheckpointPlan → one ONNX model per component. */
export type { BuildOptions, BuiltComponent } from './component';
export { fileLocation, type ComputeType, type ExternalRange, type WeightLocation } from './graph-builder';
export { buildTextEncoder, type TextEncoderOptions } from './text-encoder';
export { buildUnet, type UnetOptions } from './unet';
export { buildVaeDecoder, buildVaeEncoder } from './vae';
export { MAX_PART_BYTES, MAX_PART_GAP_BYTES, PACK_ALIGNMENT, planExternalParts, type ExternalPart, type ExternalPartsPlan } from './external-parts';
