/**
 * What every component builder takes and gives: where the checkpoint's bytes are and the compute
 * type in, the ONNX model and the external-data ranges it reads out.
 */
import type { onnx } from 'onnx-proto';
import type { TensorRef } from '../architecture';
import type { ComputeType, ExternalRange, WeightLocation } from './graph-builder';

export interface BuildOptions {
  /** Where a weight's bytes are (see `fileLocation`). */
  locate: (ref: TensorRef) => WeightLocation;
  /**
   * The type the graph computes in and declares its float I/O in. float32 (the default, as an
   * fp32 optimum export) casts float16 weights once inside the graph; float16 (as an fp16
   * export, for WebGPU) casts float32 weights.
   */
  compute?: ComputeType;
}

export interface BuiltComponent {
  model: onnx.IModelProto;
  /** The byte ranges of the checkpoint the model's initializers point to. */
  externalRanges: readonly ExternalRange[];
}
