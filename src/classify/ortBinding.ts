/**
 * The one module that loads onnxruntime-node (STYLE.md: native code is loaded from one module each).
 *
 * ORT's own logger prints coloured lines to stderr (for example when the CUDA provider library is missing),
 * which would interleave with the sensor's JSON log. Every ORT failure also surfaces as a thrown error that the
 * classifier reports as one line, so ORT's logger is turned down to fatal before the first session is created.
 */
import * as ort from 'onnxruntime-node';

ort.env.logLevel = 'fatal';

export { ort };
export type OrtSession = ort.InferenceSession;
