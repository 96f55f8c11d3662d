#include "support/pg_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace benhan::testing {
namespace {

// The unprivileged user the server runs as when the tests run as root.
bool RunAsPostgres(uid_t* uid, gid_t* gid) {
  if (geteuid() != 0) return false;
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) return false;
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
  return true;
}

void ChownTree(const std::string& dir) {
  uid_t uid;
  gid_t gid;
  if (!RunAsPostgres(&uid, &gid)) return;
  if (::chown(dir.c_str(), uid, gid) != 0) return;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    (void)::chown(e.path().c_str(), uid, gid);
  }
}

// Runs `argv` (as postgres when root) with its output appended to `log`. With `wait`, returns
// the exit status; else the child's PID.
Result<int> Spawn(const std::vector<std::string>& argv, const std::string& log, bool wait) {
  uid_t uid = 0;
  gid_t gid = 0;
  bool drop = RunAsPostgres(&uid, &gid);
  pid_t pid = ::fork();
  if (pid < 0) return Status(Code::kUnavailable, "fork failed");
  if (pid == 0) {
    ::setsid();  // not in the test's process group: a Ctrl-C reaches the test, which stops us
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    for (int i = 3; i < 1024; ++i) ::close(i);
    if (drop) {
      if (::setgid(gid) != 0 || ::setuid(uid) != 0) _exit(126);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    _exit(127);
  }
  if (!wait) return static_cast<int>(pid);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool Alive(pid_t pid) {
  if (pid <= 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);  // reaps our own child once it exits
  if (r == pid) return false;
  return ::kill(pid, 0) == 0;
}

std::string Conninfo(int port, const std::string& db) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=" + db +
         " connect_timeout=5";
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

Status RunSql(int port, const std::string& db, const std::string& sql) {
  PGconn* c = PQconnectdb(Conninfo(port, db).c_str());
  Status st;
  if (PQstatus(c) != CONNECTION_OK) {
    st = Status(Code::kUnavailable, PQerrorMessage(c));
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
      st = Status(Code::kInternal, sql + ": " + PQresultErrorMessage(r));
    PQclear(r);
  }
  PQfinish(c);
  return st;
}

}  // namespace

std::string PgBinDir() {
  const char* env = std::getenv("BENHAN_PG_BINDIR");
  std::string dir = env ? env : "/usr/lib/postgresql/15/bin";
  return fs::exists(dir + "/postgres") && fs::exists(dir + "/initdb") ? dir : std::string();
}

Result<std::unique_ptr<PgCluster>> PgCluster::Start(const std::string& dir) {
  std::string bin = PgBinDir();
  if (bin.empty())
    return Status(Code::kNotFound,
                  "PostgreSQL 15 server binaries are not installed (/usr/lib/postgresql/15/bin; "
                  "scripts/install-deps.sh installs postgresql-15)");
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->dir_ = dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ChownTree(dir);
  ASSIGN_OR_RETURN(int rc, Spawn({bin + "/initdb", "-D", dir + "/data", "-U", "postgres",
                                  "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"},
                                 dir + "/initdb.log", true));
  if (rc != 0) return Status(Code::kUnavailable, "initdb failed:\n" + Tail(dir + "/initdb.log"));
  // Test settings: speed over durability (the directory is thrown away); room for the
  // connection pools of parallel tests and for a streaming replica.
  std::ofstream conf(dir + "/data/postgresql.conf", std::ios::app);
  conf << "\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
          "max_connections = 300\nshared_buffers = 128MB\nwal_level = replica\n"
          "max_wal_senders = 10\nhot_standby = on\nlisten_addresses = '127.0.0.1'\n"
          "unix_socket_directories = '"
       << dir << "'\n";
  conf.close();
  std::ofstream hba(dir + "/data/pg_hba.conf", std::ios::app);
  hba << "\nhost replication postgres 127.0.0.1/32 trust\n";
  hba.close();
  ChownTree(dir);
  RETURN_IF_ERROR(c->Launch());
  return c;
}

Result<std::unique_ptr<PgCluster>> PgCluster::StartReplica(const PgCluster& primary,
                                                           const std::string& dir) {
  std::string bin = PgBinDir();
  if (bin.empty()) return Status(Code::kNotFound, "PostgreSQL 15 is not installed");
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->dir_ = dir;
  std::error_code ec;
  fs::create_directories(dir, ec);
  ChownTree(dir);
  // -R writes standby.signal and primary_conninfo: the copy starts as a streaming hot standby.
  ASSIGN_OR_RETURN(int rc, Spawn({bin + "/pg_basebackup", "-h", "127.0.0.1", "-p",
                                  std::to_string(primary.port()), "-U", "postgres", "-D",
                                  dir + "/data", "-R", "-X", "stream", "-c", "fast", "--no-sync"},
                                 dir + "/basebackup.log", true));
  if (rc != 0)
    return Status(Code::kUnavailable, "pg_basebackup failed:\n" + Tail(dir + "/basebackup.log"));
  std::ofstream conf(dir + "/data/postgresql.conf", std::ios::app);
  conf << "\nunix_socket_directories = '" << dir << "'\n";
  conf.close();
  ChownTree(dir);
  RETURN_IF_ERROR(c->Launch());
  return c;
}

Status PgCluster::Launch() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (port_ == 0 || attempt > 0) port_ = FreePort();
    ASSIGN_OR_RETURN(int pid, Spawn({PgBinDir() + "/postgres", "-D", dir_ + "/data", "-p",
                                     std::to_string(port_)},
                                    dir_ + "/postgres.log", false));
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && Alive(pid_)) {
      if (PQping(Conninfo(port_, "postgres").c_str()) == PQPING_OK) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (Alive(pid_)) {
      (void)Stop();
      break;
    }
    pid_ = -1;  // exited (port taken by another process?): another port
  }
  return Status(Code::kUnavailable, "postgres did not start:\n" + Tail(dir_ + "/postgres.log"));
}

Status PgCluster::Stop() {
  if (pid_ <= 0) return Status::Ok();
  ::kill(pid_, SIGINT);  // fast shutdown
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (Alive(pid_) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (Alive(pid_)) {
    ::kill(pid_, SIGQUIT);  // immediate shutdown
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  pid_ = -1;
  return Status::Ok();
}

Status PgCluster::Restart() {
  if (pid_ > 0) return Status::Ok();
  return Launch();
}

PgCluster::~PgCluster() {
  if (detached_) return;
  (void)Stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string PgCluster::Url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

Status StopDetachedCluster(const std::string& dir) {
  std::ifstream in(dir + "/data/postmaster.pid");
  long pid = 0;
  if (in >> pid && pid > 0) {
    ::kill(static_cast<pid_t>(pid), SIGINT);
    for (int i = 0; i < 1500 && ::kill(static_cast<pid_t>(pid), 0) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return Status::Ok();
}

namespace {

struct Shared {
  std::string prefix;  // "postgresql://postgres@127.0.0.1:PORT/"
  int port = 0;
  std::string why;
  std::unique_ptr<PgCluster> own;  // started for this process
};

Shared& TheServer() {
  static Shared* s = [] {
    auto* s = new Shared();
    // The ctest fixture's server: a file "PORT DIR" (tests/CMakeLists.txt, pg_fixture_main.cc).
#ifdef BENHAN_PG_FIXTURE_FILE
    std::ifstream in(BENHAN_PG_FIXTURE_FILE);
    int port = 0;
    if (in >> port && PQping(Conninfo(port, "postgres").c_str()) == PQPING_OK) {
      s->port = port;
      s->prefix = "postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/";
      return s;
    }
#endif
    std::string tmpl = (fs::temp_directory_path() / "benhan-pg-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      s->why = "cannot create a temporary directory";
      return s;
    }
    auto c = PgCluster::Start(tmpl);
    if (!c.ok()) {
      s->why = c.status().message();
      std::error_code ec;
      fs::remove_all(tmpl, ec);
      return s;
    }
    s->own = std::move(*c);
    s->port = s->own->port();
    s->prefix = "postgresql://postgres@127.0.0.1:" + std::to_string(s->port) + "/";
    // Stopped at exit (by PID), after the tests' own objects are gone.
    std::atexit([] { TheServer().own.reset(); });
    return s;
  }();
  return *s;
}

}  // namespace

std::string TestPostgres(std::string* why) {
  Shared& s = TheServer();
  if (why) *why = s.why;
  return s.prefix;
}

int64_t TestPostgresStartTime() {
  if (TestPostgres(nullptr).empty()) return 0;
  PGconn* c = PQconnectdb(Conninfo(TheServer().port, "postgres").c_str());
  int64_t t = 0;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, "SELECT extract(epoch FROM pg_postmaster_start_time())::bigint");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) t = std::strtoll(PQgetvalue(r, 0, 0), nullptr, 10);
    PQclear(r);
  }
  PQfinish(c);
  return t;
}

Result<std::string> CreateTestDatabase(const std::string& template_db) {
  std::string why;
  if (TestPostgres(&why).empty()) return Status(Code::kUnavailable, why);
  static std::mt19937_64 rng{std::random_device{}() ^ static_cast<uint64_t>(::getpid())};
  char name[40];
  std::snprintf(name, sizeof name, "t_%d_%016llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(rng()));
  std::string sql = std::string("CREATE DATABASE ") + name;
  if (!template_db.empty()) sql += " TEMPLATE " + template_db;
  Status st;
  // A template being copied by another test process at the same instant is "being accessed".
  for (int attempt = 0; attempt < 50; ++attempt) {
    st = RunSql(TheServer().port, "postgres", sql);
    if (st.ok() || st.message().find("being accessed") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!st.ok()) return st;
  return std::string(name);
}

void DropTestDatabase(const std::string& name) {
  (void)RunSql(TheServer().port, "postgres", "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

}  // namespace benhan::testing
