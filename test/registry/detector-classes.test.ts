/**
 * The `names` metadata of Ultralytics exports (Python's str() of a dict) is parsed without eval:
 * real-looking values give the names, anything else gives null and never throws.
 */
import { describe, expect, it } from 'vitest';
import { classFromFileName, normaliseClassName, parseClassNames, yoloClassNames } from '../../src/registry/detector-classes';
import { classifyOnnx } from '../../src/registry/classify';

describe('parseClassNames', () => {
  it.each([
    ["{0: 'face'}", ['face']],
    ["{0: 'hand', 1: 'face'}", ['hand', 'face']],
    ["{0: 'person', 1: 'bicycle', 2: 'car', 3: 'motorcycle'}", ['person', 'bicycle', 'car', 'motorcycle']],
    // repr switches to double quotes for a name with an apostrophe, and escapes when it has both.
    [`{0: "driver's face", 1: 'say "hi" \\'x\\''}`, ["driver's face", `say "hi" 'x'`]],
    // Printable non-ASCII stays as is; control characters and backslashes are escaped.
    ["{0: 'visage é', 1: 'tab\\there', 2: 'a\\\\b', 3: '\\x41\\u00e9\\U0001F600'}", ['visage é', 'tab\there', 'a\\b', 'Aé😀']],
    // Keys in any order; spacing and a trailing comma do not matter.
    ["{ 1 : 'b' ,\n 0 : 'a' , }", ['a', 'b']],
    // JSON (other exporters) and a plain list.
    ['{"0": "face", "1": "hand"}', ['face', 'hand']],
    ["['face', 'hand']", ['face', 'hand']],
  ])('%s', (text, names) => {
    expect(parseClassNames(text)).toEqual(names);
  });

  it.each([
    '',
    'face',
    '{}',
    '[]',
    '{0: face}',
    "{0: 'face'",
    "{0: 'face' 1: 'hand'}",
    "{0: 'face', 0: 'hand'}",
    "{1: 'face'}",
    "{0: 'a', 2: 'b'}",
    "{-1: 'face'}",
    "{'a': 'face'}",
    '{0: 1}',
    "{0: ''}",
    "{0: 'face'} trailing",
    "{0: 'bad \\x4'}",
    "{0: 'line\nbreak'}",
    "{0: ['face']}",
    "__import__('os').system('echo')",
  ])('malformed: %j → null', (text) => {
    expect(parseClassNames(text)).toBeNull();
  });

  it('never throws on cut or altered values', () => {
    const real = `{0: "driver's face", 1: 'hand\\x41', 2: '\\u00e9'}`;
    for (let i = 0; i <= real.length; i++) {
      expect(() => parseClassNames(real.slice(0, i))).not.toThrow();
      expect(() => parseClassNames(real.slice(0, i) + '\\' + real.slice(i))).not.toThrow();
    }
    expect(parseClassNames(real.slice(0, -1))).toBeNull();
  });
});

describe('class names for a YOLO detector', () => {
  it("maps the detailer's targets onto its words and keeps other names", () => {
    expect(['face', 'Face', 'faces', ' hands ', 'HAND', 'person', 'Human face'].map(normaliseClassName)).toEqual(['face', 'face', 'face', 'hand', 'hand', 'person', 'Human face']);
  });

  it('reads face or hand from ADetailer-style file names, and nothing from others', () => {
    expect(
      ['face_yolov8n.onnx', 'models/hand_yolov8s.onnx', 'yolov8n-face.onnx', 'FaceDetector.onnx', 'hands-v2.onnx', 'surface.onnx', 'face_and_hand.onnx', 'yolov8n.onnx', 'person_yolov8n.onnx'].map(
        classFromFileName,
      ),
    ).toEqual(['face', 'hand', 'face', 'face', 'hand', null, null, null, null]);
  });

  it('prefers the metadata, falls back to the file name for one class only, else null', () => {
    expect(yoloClassNames({ metadata: { names: "{0: 'Face'}" }, numClasses: 1, fileName: 'hand_yolov8n.onnx' })).toEqual(['face']);
    expect(yoloClassNames({ metadata: { names: '{0: face' }, numClasses: 1, fileName: 'hand_yolov8n.onnx' })).toEqual(['hand']);
    expect(yoloClassNames({ metadata: { names: "{0: 'face'}" }, numClasses: 2, fileName: 'face_yolov8n.onnx' })).toBeNull();
    expect(yoloClassNames({ metadata: {}, numClasses: 1, fileName: 'yolov8n.onnx' })).toBeNull();
    expect(yoloClassNames({ numClasses: 1 })).toBeNull();
  });
});

describe('classifyOnnx: YOLO classes from metadata', () => {
  const yolo = (rows: number, metadata?: Record<string, string>) => ({
    inputs: [{ name: 'images', type: 'float32', shape: [1, 3, 640, 640] }],
    outputs: [{ name: 'output0', type: 'float32', shape: [1, rows, 8400] }],
    ...(metadata ? { metadata } : {}),
  });

  it('names the classes when `names` fits the output rows, and says so in the description', () => {
    const c = classifyOnnx(yolo(6, { names: "{0: 'hand', 1: 'face'}", imgsz: '[640, 640]' }));
    expect(c).toMatchObject({ role: 'detector', details: { style: 'yolo', classes: ['hand', 'face'] } });
    expect(c.description).toBe('detector (YOLO-style, finds hand, face), input 640×640 NCHW');
  });

  it('leaves them out without metadata, with names that do not fit, or when they are malformed', () => {
    for (const c of [classifyOnnx(yolo(6)), classifyOnnx(yolo(84, { names: "{0: 'face'}" })), classifyOnnx(yolo(5, { names: 'face' }))]) {
      expect(c.role).toBe('detector');
      expect(c.details).not.toHaveProperty('classes');
      expect(c.description).toBe('detector (YOLO-style), input 640×640 NCHW');
    }
  });
});
