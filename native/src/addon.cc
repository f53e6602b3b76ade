// Module entry: the LiveCapture class and listInterfaces(). JS reaches this file only through
// src/capture/liveBinding.ts, which checks every argument first; the checks here are the second line.
#include <napi.h>

#include "interfaces.h"
#include "live_capture.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("LiveCapture", LiveCapture::Define(env));
  exports.Set("listInterfaces", Napi::Function::New(env, ListInterfaces, "listInterfaces"));
  exports.Set("recordHeaderBytes", Napi::Number::New(env, LiveCapture::kRecordHeaderBytes));
  return exports;
}

NODE_API_MODULE(sensor_pcap, Init)
