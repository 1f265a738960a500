/** LoRA: prompt tags, file → modules, name mapping and the merge maths (pure). */
export { LoraTagError, parseLoraTags, type LoraTag, type ParsedLoraPrompt } from './tags';
export { LoraFormatError, decodeFloats, readLoraModules, type LoraComponent, type LoraFileInput, type LoraMatrix, type LoraModule, type LoraTensorInfo } from './file';
export { addDelta, deltaFits, loraDelta, loraScale, type LoraDelta, type WeightLayout } from './delta';
export { ldmToDiffusers, moduleIndex, resolveModule, type ModuleIndex, type UnetLayout } from './names';
