// The import reference for `make bench`: simdjson On-Demand, one thread, reading the fields an
// importer needs (ph, name, cat, ts, dur, pid, tid) of every event of a Chrome trace (array or
// object form). Prints `events: N` and `seconds: S` (file load excluded from neither: the file is
// read into simdjson's padded buffer inside the timed region, as our importer reads it).
#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <string_view>

using namespace simdjson;

static size_t visit(ondemand::array events, size_t &checksum) {
  size_t n = 0;
  for (auto item : events) {
    ondemand::object event;
    if (item.get_object().get(event)) continue;
    for (auto field : event) {
      std::string_view key;
      if (field.unescaped_key().get(key)) continue;
      auto value = field.value();
      if (key == "ph" || key == "name" || key == "cat") {
        std::string_view s;
        if (!value.get_string().get(s)) checksum += s.size();
      } else if (key == "ts" || key == "dur") {
        double d;
        if (!value.get_double().get(d)) checksum += static_cast<size_t>(d);
      } else if (key == "pid" || key == "tid") {
        int64_t i;
        if (!value.get_int64().get(i)) checksum += static_cast<size_t>(i);
      }
    }
    n++;
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: simdjson-ref TRACE.json\n");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  padded_string json;
  if (padded_string::load(argv[1]).get(json)) {
    std::fprintf(stderr, "%s: cannot read\n", argv[1]);
    return 1;
  }
  ondemand::parser parser;
  ondemand::document doc;
  if (parser.iterate(json).get(doc)) return 1;
  size_t checksum = 0, n = 0;
  ondemand::json_type type;
  if (doc.type().get(type)) return 1;
  if (type == ondemand::json_type::array) {
    ondemand::array a;
    if (doc.get_array().get(a)) return 1;
    n = visit(a, checksum);
  } else {
    ondemand::object o;
    if (doc.get_object().get(o)) return 1;
    for (auto field : o) {
      std::string_view key;
      if (field.unescaped_key().get(key)) continue;
      if (key == "traceEvents") {
        ondemand::array a;
        if (field.value().get_array().get(a)) return 1;
        n = visit(a, checksum);
      }
    }
  }
  auto t1 = std::chrono::steady_clock::now();
  std::printf("events: %zu\nchecksum: %zu\nseconds: %.3f\n", n, checksum,
              std::chrono::duration<double>(t1 - t0).count());
  return 0;
}
