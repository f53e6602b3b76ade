#include "live_capture.h"

#include <poll.h>
#include <sys/socket.h>
#ifdef __linux__
#include <linux/if_packet.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstring>

#include "open_error.h"

// At most this many batches per poll wake-up. The fd is level-triggered, so whatever is left is read on the next
// loop turn; the limit only lets timers and I/O (flow timeouts, stats, signals) run between bursts.
static constexpr int kMaxBatchesPerWake = 16;

// LINKTYPE_RAW: libpcap's DLT_RAW differs between platforms (12 or 14); capture files and the decoder use 101.
static constexpr int kLinktypeRaw = 101;

static int LinkTypeOf(pcap_t* p) {
  int dlt = pcap_datalink(p);
  return dlt == DLT_RAW ? kLinktypeRaw : dlt;
}

static inline uint32_t Align4(uint32_t n) { return (n + 3u) & ~3u; }

Napi::Function LiveCapture::Define(Napi::Env env) {
  return DefineClass(env, "LiveCapture",
                     {
                         InstanceMethod<&LiveCapture::Start>("start"),
                         InstanceMethod<&LiveCapture::Close>("close"),
                         InstanceMethod<&LiveCapture::Stats>("stats"),
                     });
}

// Reads opts[key] as an integer in [min, max]; throws a TypeError and returns false otherwise.
static bool ReadInt(Napi::Object opts, const char* key, double min, double max, int* out) {
  Napi::Value v = opts.Get(key);
  if (!v.IsNumber()) {
    Napi::TypeError::New(opts.Env(), std::string("LiveCapture: option ") + key + " must be a number")
        .ThrowAsJavaScriptException();
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int>(d))) {
    Napi::RangeError::New(opts.Env(), std::string("LiveCapture: option ") + key + " is out of range")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int>(d);
  return true;
}

static bool ReadBool(Napi::Object opts, const char* key, bool* out) {
  Napi::Value v = opts.Get(key);
  if (!v.IsBoolean()) {
    Napi::TypeError::New(opts.Env(), std::string("LiveCapture: option ") + key + " must be a boolean")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = v.As<Napi::Boolean>().Value();
  return true;
}

// Joins PACKET_FANOUT group `group` in flow-hash mode: the kernel spreads flows over every socket of the group
// on this interface (one per sensor process), both directions of a flow to the same socket (the hash is
// symmetric), with IP fragments reassembled first so that they follow their flow.
static bool JoinFanout(pcap_t* p, int group, std::string* error) {
#ifdef PACKET_FANOUT
  int arg = (group & 0xffff) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
  if (setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_FANOUT, &arg, sizeof arg) == 0) return true;
  *error = std::strerror(errno);
#else
  *error = "PACKET_FANOUT is Linux only";
#endif
  return false;
}

LiveCapture::LiveCapture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LiveCapture>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 5 || !info[0].IsString() || !info[1].IsObject() || !info[2].IsBuffer() ||
      !info[3].IsFunction() || !info[4].IsFunction()) {
    Napi::TypeError::New(env, "LiveCapture(iface: string, options: object, batch: Buffer, onBatch: function, "
                              "onError: function)")
        .ThrowAsJavaScriptException();
    return;
  }
  iface_ = info[0].As<Napi::String>().Utf8Value();
  Napi::Buffer<uint8_t> batch = info[2].As<Napi::Buffer<uint8_t>>();
  batch_ = batch.Data();
  batchCap_ = batch.Length();
  if (reinterpret_cast<uintptr_t>(batch_) % 4 != 0) {
    Napi::TypeError::New(env, "LiveCapture: batch buffer must be 4-byte aligned").ThrowAsJavaScriptException();
    return;
  }

  std::string error;
  if (!Open(env, iface_, info[1].As<Napi::Object>(), &error)) {
    if (!error.empty()) Napi::Error::New(env, error).ThrowAsJavaScriptException();
    return;
  }
  batchRef_ = Napi::Reference<Napi::Buffer<uint8_t>>::New(batch, 1);
  onBatch_ = Napi::Persistent(info[3].As<Napi::Function>());
  onError_ = Napi::Persistent(info[4].As<Napi::Function>());
  asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "sensor:capture");
}

// Creates, configures and activates the handle. Returns false with *error set (or with a JS exception
// pending and *error empty, for a bad option).
bool LiveCapture::Open(Napi::Env env, const std::string& iface, Napi::Object opts, std::string* error) {
  int snaplen = 0, bufferSize = 0, timeoutMs = 0, fanoutGroup = -1;
  bool promisc = false, immediate = false;
  if (!ReadInt(opts, "snaplen", 16, 262144, &snaplen) || !ReadInt(opts, "bufferSize", 65536, 2147483647, &bufferSize) ||
      !ReadInt(opts, "timeoutMs", 1, 60000, &timeoutMs) || !ReadInt(opts, "fanoutGroup", -1, 65535, &fanoutGroup) ||
      !ReadBool(opts, "promisc", &promisc) || !ReadBool(opts, "immediate", &immediate)) {
    return false;
  }
  Napi::Value filterValue = opts.Get("filter");
  if (!filterValue.IsString()) {
    Napi::TypeError::New(env, "LiveCapture: option filter must be a string").ThrowAsJavaScriptException();
    return false;
  }
  std::string filter = filterValue.As<Napi::String>().Utf8Value();

  snaplen_ = static_cast<uint32_t>(snaplen);
  timeoutMs_ = timeoutMs;
  immediate_ = immediate;
  const uint32_t recordMax = kRecordHeaderBytes + Align4(snaplen_);
  if (batchCap_ < recordMax) {
    Napi::RangeError::New(env, "LiveCapture: batch buffer is smaller than one record").ThrowAsJavaScriptException();
    return false;
  }
  // Bounding the dispatch count by what fits in the worst case means a record never has to be cut or dropped.
  maxPerBatch_ = static_cast<int>(batchCap_ / recordMax);

  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t* p = pcap_create(iface.c_str(), errbuf);
  if (p == nullptr) {
    *error = "Cannot open capture on " + iface + ": " + FirstLine(errbuf);
    return false;
  }
  pcap_set_snaplen(p, snaplen);
  pcap_set_promisc(p, promisc ? 1 : 0);
  pcap_set_timeout(p, timeoutMs);
  pcap_set_buffer_size(p, bufferSize);
  pcap_set_immediate_mode(p, immediate ? 1 : 0);
  int rc = pcap_activate(p);
  if (rc < 0) {
    *error = OpenErrorMessage(iface, rc, pcap_geterr(p));
    pcap_close(p);
    return false;
  }
  std::string warning = rc > 0 ? OpenWarningMessage(iface, rc, pcap_geterr(p)) : "";

  if (!filter.empty()) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      *error = "Cannot open capture on " + iface + ": invalid filter '" + filter + "': " + FirstLine(pcap_geterr(p)) +
               " (see man 7 pcap-filter)";
      pcap_close(p);
      return false;
    }
    int set = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (set != 0) {
      *error = "Cannot open capture on " + iface + ": cannot install filter: " + FirstLine(pcap_geterr(p));
      pcap_close(p);
      return false;
    }
  }
  if (fanoutGroup >= 0 && !JoinFanout(p, fanoutGroup, error)) {
    *error = "Cannot open capture on " + iface + ": cannot join fanout group " + std::to_string(fanoutGroup) + ": " + *error +
             " (every member must capture the same interface)";
    pcap_close(p);
    return false;
  }
  if (pcap_setnonblock(p, 1, errbuf) != 0 || pcap_get_selectable_fd(p) < 0) {
    *error = "Cannot open capture on " + iface + ": cannot make the handle non-blocking: " + FirstLine(errbuf);
    pcap_close(p);
    return false;
  }

  pcap_ = p;
  Napi::Object self = Value();
  self.Set("linkType", Napi::Number::New(env, LinkTypeOf(p)));
  self.Set("snaplen", Napi::Number::New(env, snaplen_));
  self.Set("warning", Napi::String::New(env, warning));
  self.Set("maxPerBatch", Napi::Number::New(env, maxPerBatch_));
  return true;
}

LiveCapture::~LiveCapture() { Shutdown(); }

Napi::Value LiveCapture::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pcap_ == nullptr) {
    Napi::Error::New(env, "Capture on " + iface_ + " is closed; open a new one").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (started_) return env.Undefined();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "Capture on " + iface_ + ": no event loop").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  poll_ = new uv_poll_t;
  int r = uv_poll_init(loop, poll_, pcap_get_selectable_fd(pcap_));
  if (r == 0) {
    poll_->data = this;
    r = uv_poll_start(poll_, UV_READABLE, OnReadable);
  }
  if (r != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    Napi::Error::New(env, "Capture on " + iface_ + ": cannot poll the capture fd: " + uv_strerror(r))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  started_ = true;
  Ref();  // a running capture must not be garbage-collected while only the poll handle points at it
  return env.Undefined();
}

// Delivers what the kernel still holds before closing, so a stop (SIGTERM) loses no packet that had already
// arrived; bounded so that a flood cannot keep close() from returning.
static constexpr int kMaxDrainRoundsOnClose = 64;

// Beyond two block timeouts, the wait for the last block allows this much for the kernel timer and the wake-up.
static constexpr int kRetireSlackMs = 50;

Napi::Value LiveCapture::Close(const Napi::CallbackInfo& info) {
  bool wasStarted = started_;
  for (int i = 0; wasStarted && pcap_ != nullptr && i < kMaxDrainRoundsOnClose; i++) {
    double before = delivered_;
    Drain();
    if (delivered_ == before) break;
  }
  if (wasStarted) DrainHeldBlock();
  // A capture that failed during the drain (Fail) has already shut down and dropped its reference.
  bool stillStarted = started_;
  Shutdown();
  if (stillStarted) Unref();
  return info.Env().Undefined();
}

// Outside immediate mode libpcap reads a TPACKET_V3 ring, and the kernel hands over a partly filled block only when
// its retire timer fires (every timeoutMs; a block is retired at the first expiry that finds it unchanged since the
// one before, so up to two timeouts after its first packet). Packets that arrived within that time before a stop
// are counted by the kernel (pcap_stats) but not yet readable. When the counters say packets are held, this waits
// (poll(2), blocking: the process is stopping) until that block is handed over or two timeouts have passed, and
// reads it. Packets that arrive during the wait may come along; nothing before the stop is left behind.
void LiveCapture::DrainHeldBlock() {
  if (immediate_ || pcap_ == nullptr) return;
  FoldStats();
  if (static_cast<double>(received_ - dropped_) <= delivered_) return;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(2 * timeoutMs_ + kRetireSlackMs);
  while (pcap_ != nullptr) {
    long long left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return;
    struct pollfd pfd = {pcap_get_selectable_fd(pcap_), POLLIN, 0};
    int r = poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    for (int i = 0; pcap_ != nullptr && i < kMaxDrainRoundsOnClose; i++) {
      double before = delivered_;
      Drain();
      if (delivered_ == before) break;
    }
    return;
  }
}

// Stops polling and closes the handle; the last pcap_stats are folded in first so stats() stays valid after.
void LiveCapture::Shutdown() {
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  started_ = false;
  if (pcap_ != nullptr) {
    FoldStats();
    pcap_close(pcap_);
    pcap_ = nullptr;
  }
}

void LiveCapture::FoldStats() {
  struct pcap_stat s;
  if (pcap_ == nullptr || pcap_stats(pcap_, &s) != 0) return;
  received_ += static_cast<uint32_t>(s.ps_recv - lastRecv_);
  dropped_ += static_cast<uint32_t>(s.ps_drop - lastDrop_);
  ifDropped_ += static_cast<uint32_t>(s.ps_ifdrop - lastIfDrop_);
  lastRecv_ = s.ps_recv;
  lastDrop_ = s.ps_drop;
  lastIfDrop_ = s.ps_ifdrop;
}

Napi::Value LiveCapture::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FoldStats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("received", Napi::Number::New(env, static_cast<double>(received_)));
  o.Set("dropped", Napi::Number::New(env, static_cast<double>(dropped_)));
  o.Set("ifDropped", Napi::Number::New(env, static_cast<double>(ifDropped_)));
  o.Set("delivered", Napi::Number::New(env, delivered_));
  o.Set("batches", Napi::Number::New(env, batches_));
  o.Set("linkDowns", Napi::Number::New(env, linkDowns_));
  return o;
}

void LiveCapture::OnPacket(u_char* user, const struct pcap_pkthdr* hdr, const u_char* bytes) {
  LiveCapture* self = reinterpret_cast<LiveCapture*>(user);
  uint32_t capLen = hdr->caplen < self->snaplen_ ? hdr->caplen : self->snaplen_;
  uint8_t* rec = self->batch_ + self->used_;
  uint32_t head[4] = {static_cast<uint32_t>(hdr->ts.tv_sec), static_cast<uint32_t>(hdr->ts.tv_usec), capLen,
                      hdr->len};
  std::memcpy(rec, head, sizeof head);
  std::memcpy(rec + kRecordHeaderBytes, bytes, capLen);
  self->used_ += kRecordHeaderBytes + Align4(capLen);
  self->count_++;
}

void LiveCapture::OnReadable(uv_poll_t* poll, int status, int events) {
  LiveCapture* self = reinterpret_cast<LiveCapture*>(poll->data);
  // On a socket error (POLLERR: interface removed or gone down) libuv stops the poll and reports EBADF; one more
  // dispatch delivers what is left and gets libpcap's own words for the error.
  self->Drain();
  if (status < 0 && self->pcap_ != nullptr) self->OnSocketError();
}

// A mirror port's link can flap: a packet socket survives its interface going down and receives again once it
// is up, so ENETDOWN is counted and polling resumes. libpcap usually reads the socket error itself during the
// dispatch above (error 0 here) and fails that dispatch only when the interface is gone, which Drain() reported.
// Any other socket error ends the capture.
void LiveCapture::OnSocketError() {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(pcap_get_selectable_fd(pcap_), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && (err == 0 || err == ENETDOWN) &&
      poll_ != nullptr && uv_poll_start(poll_, UV_READABLE, OnReadable) == 0) {
    linkDowns_ += 1;
    return;
  }
  Napi::HandleScope scope(Env());
  Fail("Capture on " + iface_ + " stopped: " + (err != 0 ? std::strerror(err) : "the capture socket reported an error") +
       " (was the interface removed?)");
}

void LiveCapture::Drain() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  for (int b = 0; b < kMaxBatchesPerWake && pcap_ != nullptr; b++) {
    used_ = 0;
    count_ = 0;
    int n = pcap_dispatch(pcap_, maxPerBatch_, OnPacket, reinterpret_cast<u_char*>(this));
    if (n < 0 && count_ == 0) {
      Fail("Capture on " + iface_ + " stopped: " + FirstLine(pcap_geterr(pcap_)));
      return;
    }
    if (count_ == 0) return;
    delivered_ += count_;
    batches_ += 1;
    onBatch_.MakeCallback(Value(), {Napi::Number::New(env, count_), Napi::Number::New(env, static_cast<double>(used_))},
                          *asyncContext_);
    if (env.IsExceptionPending()) {
      // Nothing JS is on the stack to catch it: hand it to process 'uncaughtException' like any callback error.
      Napi::Error err = env.GetAndClearPendingException();
      napi_fatal_exception(env, err.Value());
      return;
    }
  }
}

// A capture that cannot go on (interface removed, socket error) closes itself and tells JS once.
void LiveCapture::Fail(const std::string& message) {
  Napi::Env env = Env();
  bool wasStarted = started_;
  Shutdown();
  onError_.MakeCallback(Value(), {Napi::String::New(env, message)}, *asyncContext_);
  if (env.IsExceptionPending()) {
    Napi::Error err = env.GetAndClearPendingException();
    napi_fatal_exception(env, err.Value());
  }
  if (wasStarted) Unref();
}
