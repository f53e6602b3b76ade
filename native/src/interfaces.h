#pragma once
#include <napi.h>

// listInterfaces(): [{ name, description, addresses: string[], loopback, up, running }] from pcap_findalldevs.
Napi::Value ListInterfaces(const Napi::CallbackInfo& info);
