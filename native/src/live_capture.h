#pragma once
#include <napi.h>
#include <pcap/pcap.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>

// One open libpcap handle that hands packets to JS in batches.
//
// new LiveCapture(iface, { snaplen, promisc, bufferSize, filter, timeoutMs, immediate, fanoutGroup }, batch: Buffer,
//                 onBatch(count, usedBytes), onError(message))
//   .linkType .snaplen .warning   start()   close()   stats()
// fanoutGroup -1: a socket of its own; 0..65535: join that PACKET_FANOUT group (flow hash).
//
// The handle is non-blocking; a uv_poll on its selectable fd runs pcap_dispatch on the event loop thread, so
// capture never blocks the loop and the kernel ring (bufferSize) is the only queue. Each dispatch copies up to
// one batch of records into `batch` (record = u32 tsSec, u32 tsUsec, u32 capLen, u32 wireLen, capLen bytes,
// padded to 4 bytes, native byte order) and then makes one JS call.
class LiveCapture : public Napi::ObjectWrap<LiveCapture> {
 public:
  static constexpr uint32_t kRecordHeaderBytes = 16;

  static Napi::Function Define(Napi::Env env);
  explicit LiveCapture(const Napi::CallbackInfo& info);
  ~LiveCapture() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);

  static void OnReadable(uv_poll_t* poll, int status, int events);
  static void OnPacket(u_char* user, const struct pcap_pkthdr* hdr, const u_char* bytes);
  void Drain();
  void DrainHeldBlock();
  void Fail(const std::string& message);
  void OnSocketError();
  void Shutdown();
  void FoldStats();
  bool Open(Napi::Env env, const std::string& iface, Napi::Object opts, std::string* error);

  std::string iface_;
  pcap_t* pcap_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  bool started_ = false;

  Napi::Reference<Napi::Buffer<uint8_t>> batchRef_;  // keeps the JS batch buffer alive while we write into it
  uint8_t* batch_ = nullptr;
  size_t batchCap_ = 0;
  size_t used_ = 0;
  uint32_t count_ = 0;
  uint32_t snaplen_ = 0;
  int maxPerBatch_ = 0;
  int timeoutMs_ = 0;
  bool immediate_ = false;

  Napi::FunctionReference onBatch_;
  Napi::FunctionReference onError_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;

  // pcap_stats counters are 32-bit and wrap (at 1 Mpps in about 70 minutes); the deltas between two reads are
  // folded into 64-bit totals, so stats() must be read more often than that (the daemon reads every minute).
  uint64_t received_ = 0, dropped_ = 0, ifDropped_ = 0;
  uint32_t lastRecv_ = 0, lastDrop_ = 0, lastIfDrop_ = 0;
  double delivered_ = 0, batches_ = 0, linkDowns_ = 0;
};
