#include "open_error.h"

#include <pcap/pcap.h>

std::string FirstLine(const char* text) {
  std::string s = text == nullptr ? "" : text;
  size_t nl = s.find_first_of("\r\n");
  if (nl != std::string::npos) s.resize(nl);
  return s;
}

std::string OpenErrorMessage(const std::string& iface, int code, const char* detail) {
  const std::string on = "Cannot open capture on " + iface + ": ";
  switch (code) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return "Cannot open capture: interface " + iface + " does not exist (see 'sensor interfaces')";
    case PCAP_ERROR_PERM_DENIED:
      return on + "permission denied (run as root or give the binary CAP_NET_RAW, see README)";
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return on + "no permission for promiscuous mode (set capture.promisc to false or grant CAP_NET_ADMIN, see README)";
    case PCAP_ERROR_IFACE_NOT_UP:
      return on + "the interface is down (bring it up: ip link set " + iface + " up)";
    case PCAP_ERROR_RFMON_NOTSUP:
      return on + "monitor mode is not supported by this interface";
    default:
      return on + FirstLine(detail);
  }
}

std::string OpenWarningMessage(const std::string& iface, int code, const char* detail) {
  switch (code) {
    case PCAP_WARNING_PROMISC_NOTSUP:
      return "Capture on " + iface + ": promiscuous mode is not supported, only traffic addressed to this host is seen";
    case PCAP_WARNING_TSTAMP_TYPE_NOTSUP:
      return "";  // we never ask for a time stamp type
    default:
      return "Capture on " + iface + ": " + FirstLine(detail);
  }
}
