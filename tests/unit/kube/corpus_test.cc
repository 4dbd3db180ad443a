// ParseManifests on the shared corpus of real published manifests, checked against the
// corpus' own INDEX.md. The corpus lives outside the repository: the test skips without it.
// PULLFLEET_CORPUS_DIR overrides the default location.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kube/manifests.h"

namespace pullfleet::kube {
namespace {

namespace fs = std::filesystem;

fs::path CorpusDir() {
  const char* env = std::getenv("PULLFLEET_CORPUS_DIR");
  return env != nullptr ? fs::path(env) : fs::path("/work/shared/corpus");
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// One row of INDEX.md's table.
struct IndexRow {
  std::string file;
  std::map<std::string, int> kinds;  // "Service×3" -> Service: 3
  int containers = 0;
  int init_containers = 0;
  std::map<std::string, int> images;       // pod container images, with multiplicity
  std::map<std::string, int> init_images;  // how many of them are init containers
};

std::vector<std::string> Split(const std::string& text, const std::string& separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t at; (at = text.find(separator, start)) != std::string::npos;
       start = at + separator.size()) {
    parts.push_back(text.substr(start, at - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

// "×3" right after `pos` (UTF-8 multiplication sign), else 1.
int Multiplier(const std::string& text, size_t pos) {
  const std::string times = "\xC3\x97";
  if (text.compare(pos, times.size(), times) != 0) return 1;
  return std::atoi(text.c_str() + pos + times.size());
}

void ParseImages(const std::string& cell, IndexRow* row) {
  for (const std::string& raw : Split(cell, "<br>")) {
    const std::string entry = Trim(raw);
    if (entry.size() < 2 || entry[0] != '`') continue;  // "— (none)"
    const size_t close = entry.find('`', 1);
    const std::string image = entry.substr(1, close - 1);
    const std::string rest = Trim(entry.substr(close + 1));
    if (rest.find('[') != std::string::npos) continue;  // "[not a container ...]"
    const int count = Multiplier(rest, 0);
    row->images[image] += count;
    const size_t init = rest.find("init)");
    if (init != std::string::npos) {
      const size_t open = rest.rfind('(', init);
      const std::string inside = rest.substr(open + 1, init - open - 1);
      row->init_images[image] += Trim(inside).empty() ? count : std::atoi(inside.c_str());
    }
  }
}

std::vector<IndexRow> ReadIndex(const fs::path& dir) {
  std::vector<IndexRow> rows;
  std::istringstream in(ReadFile(dir / "INDEX.md"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const std::vector<std::string> cells = Split(line, " | ");
    if (cells.size() < 7) continue;
    IndexRow row;
    row.file = Trim(cells[0]).substr(3);
    row.file = row.file.substr(0, row.file.find('`'));
    for (const std::string& raw : Split(cells[4], ",")) {
      const std::string kind = Trim(raw);
      const size_t times = kind.find("\xC3\x97");
      row.kinds[kind.substr(0, times)] += times == std::string::npos ? 1 : Multiplier(kind, times);
    }
    row.containers = std::atoi(cells[5].c_str());
    const size_t init = cells[5].find('(');
    if (init != std::string::npos) row.init_containers = std::atoi(cells[5].c_str() + init + 1);
    ParseImages(cells[6], &row);
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST(Corpus, EveryFileParsesAsItsIndexSays) {
  const fs::path dir = CorpusDir();
  if (!fs::exists(dir / "INDEX.md")) GTEST_SKIP() << "no corpus at " << dir;
  const std::vector<IndexRow> rows = ReadIndex(dir);
  ASSERT_GE(rows.size(), 30u) << "INDEX.md table not understood";

  for (const IndexRow& row : rows) {
    SCOPED_TRACE(row.file);
    Result<ManifestSet> set = ParseManifests(ReadFile(dir / row.file), row.file);
    if (!set.ok() && set.error().message().find("invalid metadata.name \"$") != std::string::npos) {
      // An envsubst template whose object names still hold their placeholders: refused, as
      // the API server refuses them (the rest of the index row cannot be checked).
      continue;
    }
    ASSERT_TRUE(set.ok()) << set.error().message();

    // Every kind of the index is either read or counted as skipped, with its count.
    std::map<std::string, int> kinds = set->skipped_kinds;
    auto add = [&](const std::string& kind, size_t n) {
      if (n > 0) kinds[kind] += static_cast<int>(n);
    };
    add("Pod", set->pods.size());
    for (const auto& workload : set->workloads) add(workload.kind(), 1);
    add("Secret", set->secrets.size());
    add("ServiceAccount", set->service_accounts.size());
    add("RuntimeClass", set->runtime_classes.size());
    add("Namespace", set->namespaces.size());
    EXPECT_EQ(kinds, row.kinds);
    for (const std::string& stored : {"Secret", "ServiceAccount", "Namespace"}) {
      EXPECT_EQ(set->skipped_kinds.count(stored), 0u) << stored << " must be read, not skipped";
    }

    std::map<std::string, int> images, init_images;
    int containers = 0, init_containers = 0;
    auto count = [&](const pb::PodSpec& spec) {
      for (const auto& c : spec.init_containers()) {
        ++images[c.image()];
        ++init_images[c.image()];
        ++init_containers;
      }
      for (const auto& c : spec.containers()) ++images[c.image()];
      containers += spec.init_containers_size() + spec.containers_size();
    };
    for (const auto& pod : set->pods) count(pod.spec());
    for (const auto& workload : set->workloads) count(workload.template_spec());

    EXPECT_EQ(containers, row.containers);
    EXPECT_EQ(init_containers, row.init_containers);
    EXPECT_EQ(images, row.images);
    EXPECT_EQ(init_images, row.init_images);
  }
}

}  // namespace
}  // namespace pullfleet::kube
