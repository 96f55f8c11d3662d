// The ctest fixture that runs one PostgreSQL server for a whole test run (tests/CMakeLists.txt):
//   pg_fixture start FILE   starts a server in a new temporary directory, writes "PORT DIR" to FILE
//   pg_fixture stop FILE    stops that server by its PID and removes its directory and FILE
// Without PostgreSQL binaries `start` writes nothing and succeeds: the tests then skip, saying why.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/pg_cluster.h"

namespace fs = std::filesystem;
using benhan::testing::PgCluster;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: pg_fixture start|stop FILE\n");
    return 2;
  }
  std::string cmd = argv[1], file = argv[2];
  // A server left by an interrupted run is stopped first (by the PID in its directory).
  {
    std::ifstream in(file);
    int port = 0;
    std::string dir;
    if (in >> port >> dir) (void)benhan::testing::StopDetachedCluster(dir);
    std::error_code ec;
    fs::remove(file, ec);
  }
  if (cmd == "stop") return 0;
  if (cmd != "start") return 2;
  std::string tmpl = (fs::temp_directory_path() / "benhan-pgfixture-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return 1;
  auto c = PgCluster::Start(tmpl);
  if (!c.ok()) {
    std::printf("PostgreSQL not started, its tests will skip: %s\n", c.status().message().c_str());
    std::error_code ec;
    fs::remove_all(tmpl, ec);
    return 0;
  }
  (*c)->Detach();
  std::ofstream out(file);
  out << (*c)->port() << " " << (*c)->dir() << "\n";
  std::printf("PostgreSQL for the tests: port %d, pid %d, %s\n", (*c)->port(),
              static_cast<int>((*c)->pid()), (*c)->dir().c_str());
  return 0;
}
