#include "processor/cli/flags.h"

#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace exportwatch::cli {

void FlagSet::String(const std::string& name, std::string* target, const std::string& help) {
  flags_.push_back(
      {name, help, target->empty() ? "" : *target, false, [target](const std::string& v) {
         *target = v;
         return absl::OkStatus();
       }});
}

void FlagSet::Int(const std::string& name, int64_t* target, const std::string& help) {
  flags_.push_back({name, help, absl::StrCat(*target), false, [target, name](const std::string& v) {
                      if (!absl::SimpleAtoi(v, target)) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("--", name, ": '", v, "' is not an integer"));
                      }
                      return absl::OkStatus();
                    }});
}

void FlagSet::Double(const std::string& name, double* target, const std::string& help) {
  flags_.push_back({name, help, absl::StrCat(*target), false, [target, name](const std::string& v) {
                      if (!absl::SimpleAtod(v, target)) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("--", name, ": '", v, "' is not a number"));
                      }
                      return absl::OkStatus();
                    }});
}

void FlagSet::Bool(const std::string& name, bool* target, const std::string& help) {
  flags_.push_back(
      {name, help, *target ? "true" : "false", true, [target, name](const std::string& v) {
         if (v.empty() || v == "true" || v == "1") {
           *target = true;
         } else if (v == "false" || v == "0") {
           *target = false;
         } else {
           return absl::InvalidArgumentError(
               absl::StrCat("--", name, ": '", v, "' is not true or false"));
         }
         return absl::OkStatus();
       }});
}

void FlagSet::Repeated(const std::string& name, std::vector<std::string>* target,
                       const std::string& help) {
  flags_.push_back({name, help, "", false, [target](const std::string& v) {
                      target->push_back(v);
                      return absl::OkStatus();
                    }});
}

absl::Status FlagSet::Parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      return absl::OkStatus();
    }
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name = arg.substr(2);
    std::string value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    Flag* flag = nullptr;
    for (auto& f : flags_) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value && !flag->is_bool) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
      }
      value = argv[++i];
    }
    if (auto s = flag->set(value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out =
      absl::StrCat("usage: exportwatch ", command_, " [flags]\n\n", summary_, "\n\nflags:\n");
  for (const auto& f : flags_) {
    absl::StrAppendFormat(&out, "  --%-22s %s", f.name + (f.is_bool ? "" : " V"), f.help);
    if (!f.default_text.empty()) absl::StrAppend(&out, " (default ", f.default_text, ")");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "  --help                   this text\n");
  return out;
}

int HandleParse(FlagSet& flags, int argc, char** argv, int first) {
  absl::Status s = flags.Parse(argc, argv, first);
  if (!s.ok()) {
    std::cerr << "exportwatch: " << s.message() << "\n(see --help)\n";
    return 2;
  }
  if (flags.help_requested()) {
    std::cout << flags.Usage();
    return 0;
  }
  return -1;
}

}  // namespace exportwatch::cli
