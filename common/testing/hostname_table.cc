#include "common/testing/hostname_table.h"

#include "absl/strings/str_cat.h"

namespace mecai {
namespace test_hostnames {

std::string NameOfLength(size_t octets) {
  std::string name;
  char letter = 'a';
  size_t left = octets;
  while (left > 0) {
    // A label of 63 unless what is left fits in one; never leave a lone dot at the end.
    size_t label = left <= 63 ? left : (left == 64 ? 62 : 63);
    absl::StrAppend(&name, std::string(label, letter++));
    left -= label;
    if (left > 0) {
      name += '.';
      --left;
    }
  }
  return name;
}

const std::vector<HostnameCase>& HostnameCases() {
  // Columns: name, VR, ProbeTask, approval domain, approval CSR name, why the VR rule refuses.
  static const auto* cases = new std::vector<HostnameCase>{
      // Valid names.
      {"example.com", true, true, true, true, ""},
      {"www.example.com", true, true, true, true, ""},
      {"a.b.c.example.org", true, true, true, true, ""},
      {"localhost", true, true, false, false, ""},
      {"a", true, true, false, false, ""},
      {"a-b.c-d.e", true, true, true, true, ""},
      {"a--b.example", true, true, true, true, ""},   // "--" in positions 2-3: not R-LDH.
      {"1.example.com", true, true, true, true, ""},  // A digit may come first (RFC 1123 §2.1).
      {"0.example", true, true, true, true, ""},
      {"example.c0m", true, true, true, true, ""},
      {"example.co1", true, true, true, true, ""},
      // Case: the wire form is lower case; the approval service canonicalizes what it is sent.
      {"Example.com", false, false, true, true, "label \"Example\" has upper-case letters"},
      {"WWW.EXAMPLE.COM", false, false, true, true, "label \"WWW\" has upper-case letters"},
      {"www.example.coM", false, false, true, true, "label \"coM\" has upper-case letters"},
      // Trailing dot, empty name, empty labels.
      {"example.com.", false, false, false, false, "ends with a dot"},
      {".", false, false, false, false, "ends with a dot"},
      {"", false, false, false, false, "hostname \"\": is empty"},
      {".example.com", false, false, false, false, "has an empty label (label 1"},
      {"a..example.com", false, false, false, false, "has an empty label (label 2"},
      // Lengths (RFC 1035 §2.3.4).
      {std::string(63, 'a') + ".com", true, true, true, true, ""},
      {std::string(64, 'a') + ".com", false, false, false, false,
       absl::StrCat("label \"", std::string(64, 'a'), "\" is 64 octets; a label has at most 63")},
      {NameOfLength(253), true, true, true, true, ""},
      {NameOfLength(254), false, false, false, false, "is 254 octets; a name has at most 253"},
      // Hyphens and other characters.
      {"-lead.example.com", false, false, false, false, "label \"-lead\" starts with a hyphen"},
      {"trail-.example.com", false, false, false, false, "label \"trail-\" ends with a hyphen"},
      {"under_score.example.com", false, false, false, false,
       "label \"under_score\" has \"_\" at position 6"},
      {"a b.example", false, false, false, false, "label \"a b\" has \" \" at position 2"},
      {"tab\t.example", false, false, false, false, "label \"tab\\t\" has \"\\t\" at position 4"},
      {std::string("nul\0.example", 12), false, false, false, false,
       "label \"nul\\x00\" has \"\\x00\" at position 4"},
      {"example.com:443", false, false, false, false, "label \"com:443\" has \":\" at position 4"},
      // R-LDH labels and A-labels (RFC 5890 §2.3.1).
      {"ab--cd.example", false, false, false, false,
       "hostname \"ab--cd.example\": label \"ab--cd\" has \"--\" in positions 3-4, reserved for "
       "A-labels (RFC 5890 §2.3.1)"},
      {"ab--cd", false, false, false, false, "label \"ab--cd\" has \"--\" in positions 3-4"},
      {"www.ab--cd.example", false, false, false, false,
       "label \"ab--cd\" has \"--\" in positions 3-4"},
      {"xn--bcher-kva.example", true, true, true, true, ""},
      {"xn--bcher-kva.xn--p1ai", true, true, true, true, ""},
      {"XN--BCHER-KVA.example", false, false, true, true,
       "label \"XN--BCHER-KVA\" has upper-case letters"},
      {"Xn--bcher-kva.example", false, false, true, true,
       "label \"Xn--bcher-kva\" has upper-case letters"},
      {"xn--.example", false, false, false, false, "label \"xn--\" ends with a hyphen"},
      // U-labels and other non-ASCII bytes. Messages C-escape them; after a hex escape a hex digit
      // is escaped too ("\\x63" for "c"), so the text reads back unambiguously.
      {"b\xc3\xbc"
       "cher.example",
       false, false, false, false, "label \"b\\xc3\\xbc\\x63her\" has non-ASCII bytes"},
      {"caf\xc3\xa9.example.test", false, false, false, false, "has non-ASCII bytes"},
      {"example.\xff", false, false, false, false, "label \"\\xff\" has non-ASCII bytes"},
      // Wildcards (RFC 6125 §6.4.3).
      {"*.example.com", false, false, false, true,
       "label \"*\" is a wildcard; wildcards are not accepted here"},
      {"*.com", false, false, false, false, "label \"*\" is a wildcard"},
      {"a.*.example", false, false, false, false, "label \"*\" is a wildcard"},
      {"*", false, false, false, false, "label \"*\" is a wildcard"},
      {"*.*.example.com", false, false, false, false, "label \"*\" is a wildcard"},
      {"w*.example.com", false, false, false, false,
       "label \"w*\" has \"*\" inside a label; a wildcard is only the whole left-most label"},
      // IP literals: only the agent takes them, and only in canonical form (RFC 5952).
      {"1.2.3.4", false, true, false, false, "is an IP address literal"},
      {"192.0.2.1", false, true, false, false, "is an IP address literal"},
      {"::1", false, true, false, false, "is an IP address literal"},
      {"2001:db8::1", false, true, false, false, "is an IP address literal"},
      {"::ffff:127.0.0.1", false, true, false, false, "is an IP address literal"},
      {"2001:DB8::1", false, false, false, false, "is an IP address literal"},
      {"2001:db8:0::1", false, false, false, false, "is an IP address literal"},
      {"[::1]", false, false, false, false, "label \"[::1]\" has \"[\" at position 1"},
      {"1.2.3.4.", false, false, false, false, "ends with a dot"},
      {std::string("1.2.3.4\0", 8), false, false, false, false,
       "label \"4\\x00\" has \"\\x00\" at position 2"},
      // All-numeric top-level labels (RFC 3696 §2): never a name.
      {"example.123", false, false, false, false, "has the all-numeric top-level label \"123\""},
      {"192.168.1.256", false, false, false, false, "has the all-numeric top-level label \"256\""},
      {"01.2.3.4", false, false, false, false, "has the all-numeric top-level label \"4\""},
      {"1.2.3", false, false, false, false, "has the all-numeric top-level label \"3\""},
      {"123", false, false, false, false, "has the all-numeric top-level label \"123\""},
  };
  return *cases;
}

}  // namespace test_hostnames
}  // namespace mecai
