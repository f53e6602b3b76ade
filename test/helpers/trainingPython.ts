import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The Python the training scripts run under (Debian's, with python3-torch and friends). */
export const PYTHON = '/usr/bin/python3';

/** Why models/train's scripts cannot run here (no Python, or it lacks torch/onnx/sklearn/matplotlib), or null. */
export function trainingPythonMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, onnx, sklearn, matplotlib'], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} lacks torch/onnx/sklearn/matplotlib (apt install python3-torch python3-onnx python3-sklearn python3-matplotlib)`;
  return null;
}
