#include "interfaces.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sys/socket.h>

#include "open_error.h"

// Text form of an IPv4/IPv6 socket address, or "" for other families (link-layer addresses).
static std::string AddressText(const struct sockaddr* sa) {
  char text[INET6_ADDRSTRLEN] = "";
  if (sa == nullptr) return "";
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, text, sizeof text);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, text, sizeof text);
  }
  return text;
}

Napi::Value ListInterfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_if_t* devs = nullptr;
  if (pcap_findalldevs(&devs, errbuf) != 0) {
    Napi::Error::New(env, "Cannot list capture interfaces: " + FirstLine(errbuf)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array list = Napi::Array::New(env);
  uint32_t n = 0;
  for (pcap_if_t* d = devs; d != nullptr; d = d->next) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", d->name);
    o.Set("description", d->description != nullptr ? d->description : "");
    Napi::Array addrs = Napi::Array::New(env);
    uint32_t k = 0;
    for (pcap_addr_t* a = d->addresses; a != nullptr; a = a->next) {
      std::string text = AddressText(a->addr);
      if (!text.empty()) addrs.Set(k++, text);
    }
    o.Set("addresses", addrs);
    o.Set("loopback", (d->flags & PCAP_IF_LOOPBACK) != 0);
    o.Set("up", (d->flags & PCAP_IF_UP) != 0);
    o.Set("running", (d->flags & PCAP_IF_RUNNING) != 0);
    list.Set(n++, o);
  }
  pcap_freealldevs(devs);
  return list;
}
