/**
 * Imported first by the worker threads' entry files, so that the modules they load next go through the code cache
 * (codeCache.ts; the main thread's is installed by bin/sensor.js).
 */
import { installCodeCache } from './codeCache';

installCodeCache();
