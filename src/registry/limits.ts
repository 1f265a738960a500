/**
 * Size limits checked at import, so a model that cannot load in onnxruntime-web is refused with
 * the reason and the fix instead of failing later with an out-of-memory or protobuf parse error.
 */
import type { ComponentRole } from '../protocol/models';
import type { Role } from './classify';
import type { OnnxInfo } from './onnx-inspect';

/**
 * protobuf's hard limit on a message (INT_MAX bytes): onnx and onnxruntime cannot parse a larger
 * .onnx file, which is why big models keep their weights in external data files.
 */
export const PROTOBUF_MAX_BYTES = 2 ** 31 - 1;

/**
 * The largest single buffer we assume the browser gives us. onnxruntime-web takes the model and
 * each external data file as one ArrayBuffer/Uint8Array; engines differ (Chrome and Firefox allow
 * more on 64-bit builds, older and mobile ones less), so we use 2 GiB − 1, the limit every engine
 * supports and the one TypedArray lengths had for years.
 */
export const MAX_BUFFER_BYTES = 2 ** 31 - 1;

/**
 * Most weight bytes one component may have. onnxruntime-web runs in 32-bit WebAssembly: its heap
 * is at most 4 GiB, and session creation holds the weights there next to the parsed graph and
 * working memory (the WebGPU backend also stages them there before upload). About 2.5 GB of
 * weights is the most that loads; a float16 SD UNet (1.7 GB) does, a float32 one (3.4 GB) doesn't.
 */
export const MAX_WEIGHT_BYTES = 2.5e9;

/** A component onnxruntime-web cannot load; `reason` and `fix` are also in the message. */
export class ModelTooLargeError extends Error {
  override name = 'ModelTooLargeError';
  constructor(
    readonly component: string,
    readonly reason: string,
    readonly fix: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`${component}: ${reason}; ${fix}`);
  }
}

/** Bytes as decimal GB with one decimal ("3.4 GB"), as file managers show them. */
export const formatGB = (bytes: number): string => `${(bytes / 1e9).toFixed(1)} GB`;

export interface LoadableOptions {
  /** The component's path in the model (`unet/model.onnx`), for the message. */
  component: string;
  role: Role | ComponentRole;
  /** Override of MAX_BUFFER_BYTES (e.g. when the browser is known to allow more). */
  maxBufferBytes?: number;
}

type SizeInfo = Pick<OnnxInfo, 'protobufBytes' | 'externalData' | 'initializers' | 'weightDtype'>;

/** Throws `ModelTooLargeError` when the component cannot load in onnxruntime-web. */
export function checkLoadable(info: SizeInfo, { component, role, maxBufferBytes = MAX_BUFFER_BYTES }: LoadableOptions): void {
  const weights = info.initializers.bytes;

  // The weights first: it's the most useful message (a float32 UNet also fails the buffer checks).
  if (weights > MAX_WEIGHT_BYTES) {
    const float32 = info.initializers.byType.float32 ?? 0;
    const halfFits = float32 > 0 && weights - float32 / 2 <= MAX_WEIGHT_BYTES;
    if (role === 'unet' && info.weightDtype === 'float32' && halfFits) {
      throw new ModelTooLargeError(
        component,
        `a float32 UNet of ${formatGB(weights)} will not fit in the browser's memory for onnxruntime-web`,
        'use a float16 export (half the size) with external data',
        weights,
        MAX_WEIGHT_BYTES,
      );
    }
    throw new ModelTooLargeError(
      component,
      `its weights (${formatGB(weights)}, ${info.weightDtype}) will not fit in the browser's memory for onnxruntime-web, which holds at most about ${formatGB(MAX_WEIGHT_BYTES)} of weights per model`,
      halfFits ? 'use a float16 export (half the size) with external data' : 'this model is too large for the browser; use a smaller model',
      weights,
      MAX_WEIGHT_BYTES,
    );
  }

  if (info.protobufBytes > PROTOBUF_MAX_BYTES) {
    throw new ModelTooLargeError(
      component,
      `the model file is ${formatGB(info.protobufBytes)} with its weights inside, over protobuf's limit of ${formatGB(PROTOBUF_MAX_BYTES)} (2 GiB), so onnxruntime cannot parse it`,
      're-export it with the weights in an external data file (model.onnx + model.onnx_data)',
      info.protobufBytes,
      PROTOBUF_MAX_BYTES,
    );
  }

  const buffers = [{ what: 'the model file', bytes: info.protobufBytes }, ...info.externalData.map((d) => ({ what: `its external data file ${d.location}`, bytes: d.bytes }))];
  for (const buffer of buffers) {
    if (buffer.bytes > maxBufferBytes) {
      throw new ModelTooLargeError(
        component,
        `${buffer.what} is ${formatGB(buffer.bytes)}, more than the ${formatGB(maxBufferBytes)} the browser allows in one buffer`,
        `re-export it with the weights split over several external data files of under ${formatGB(maxBufferBytes)} each, or use a float16 export`,
        buffer.bytes,
        maxBufferBytes,
      );
    }
  }
}
