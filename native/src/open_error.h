#pragma once
#include <string>

// One-line message for a failed pcap_activate(), saying what to do about it.
std::string OpenErrorMessage(const std::string& iface, int code, const char* detail);

// One-line message for a pcap_activate() warning (code > 0), or "" when there is nothing to say.
std::string OpenWarningMessage(const std::string& iface, int code, const char* detail);

// First line of a libpcap message, so every error stays one line.
std::string FirstLine(const char* text);
