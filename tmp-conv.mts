import { writeLdmCheckpoint, tinyLdmConfig } from './test/fixtures/ldm-checkpoint';
import { runConvertCheckpoint } from './src/registry/checkpoint/cli';
import * as ort from 'onnxruntime-node';
for (const fam of ['sd1', 'sd2'] as const) for (const dt of ['F16', 'F32'] as const) {
  const path = `/tmp/tiny-${fam}-${dt}.safetensors`;
  await writeLdmCheckpoint(path, tinyLdmConfig(fam, {}), dt, 1);
  const out = `/tmp/tiny-${fam}-${dt}-onnx`;
  await runConvertCheckpoint([path, '--out', out]);
  for (const c of ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']) {
    const s = await ort.InferenceSession.create(`${out}/${c}/model.onnx`);
    console.log(fam, dt, c, s.inputNames, s.outputNames);
  }
}
