// What the shim must see besides mutexes (the record tests run it):
//   waits threads   — 200 threads each computing ~2 ms and exiting: their CPU must not be lost
//                     between the sampler's 20 ms readings.
//   waits flock F   — two processes taking turns on an exclusive flock of file F (50 ms each,
//                     4 times): file-lock waits with the same lock in both processes.
//   waits storage F — write and fsync a file 20 times, and usleep 5 ms 10 times.
//   waits loop      — an epoll loop over a pipe that a second thread writes every 5 ms, 60
//                     times; the 20th wake-up computes 150 ms of CPU, the 40th polls another
//                     pipe (nothing comes) for 150 ms: a computing and a blocking stall.
//   waits pipe      — a parent writes 640 messages of 1 MiB into a pipe (a 4-byte length
//                     first); two forked children take turns reading them (a read lock:
//                     a process-shared mutex) and do almost nothing with them.
//   waits retrylock F — three processes take turns on an fcntl lock of F by trying and
//                     sleeping 1 ms between tries (SQLite's busy handler), 6 holds of 20 ms each.
//   waits sigsuspend — 20 times: block SIGUSR1, fork a child that sends it to the parent,
//                     compute 3 ms, then wait for it in sigsuspend (nginx's master does this):
//                     must not hang (an alarm ends it after 20 s with status 142).
//   waits stdio     — a child writes 5 lines 50 ms apart into a pipe; the parent reads them with
//                     fgets (stdio reads with glibc's internal read, not the hooked one).
//   waits lockshare P — 4 threads × 150 steps of 1 ms CPU each, P % of every step under one
//                     mutex (100: a global lock around all the work; 30: a critical section).
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

__attribute__((unused)) static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

// 2 ms of this thread's CPU time (not wall time: the figure must not depend on the load).
static void *burn(void *arg) {
  volatile uint64_t x = (uint64_t)(uintptr_t)arg;
  uint64_t end = cpu_ns() + 2000000;
  while (cpu_ns() < end) x = x * 6364136223846793005ull + 1;
  return 0;
}

// `ns` of this thread's CPU time.
static void spin_cpu(uint64_t ns) {
  volatile uint64_t x = 1;
  uint64_t end = cpu_ns() + ns;
  while (cpu_ns() < end) x = x * 6364136223846793005ull + 1;
}

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static int locked_percent = 100;

static void *lock_steps(void *arg) {
  (void)arg;
  for (int i = 0; i < 150; i++) {
    pthread_mutex_lock(&shared_lock);
    spin_cpu(10000ull * (uint64_t)locked_percent);
    pthread_mutex_unlock(&shared_lock);
    spin_cpu(10000ull * (uint64_t)(100 - locked_percent));
  }
  return 0;
}

static int wake_pipe[2];

static void *waker(void *arg) {
  (void)arg;
  for (int i = 0; i < 60; i++) {
    usleep(5000);
    if (write(wake_pipe[1], "x", 1) != 1) break;
  }
  close(wake_pipe[1]);
  return 0;
}

static int event_loop(void) {
  if (pipe(wake_pipe) != 0) return 1;
  int quiet[2];
  if (pipe(quiet) != 0) return 1;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = wake_pipe[0]};
  epoll_ctl(ep, EPOLL_CTL_ADD, wake_pipe[0], &ev);
  pthread_t t;
  pthread_create(&t, 0, waker, 0);
  int wakes = 0;
  for (;;) {
    struct epoll_event got;
    if (epoll_wait(ep, &got, 1, 1000) <= 0) continue;
    char buf[64];
    ssize_t n = read(wake_pipe[0], buf, sizeof buf);
    if (n <= 0) break;
    int before = wakes;
    wakes += (int)n;
    if (before < 20 && wakes >= 20) spin_cpu(150000000ull);
    if (before < 40 && wakes >= 40) {
      struct pollfd p = {.fd = quiet[0], .events = POLLIN};
      poll(&p, 1, 150);
    }
  }
  pthread_join(t, 0);
  printf("loop done %d\n", wakes);
  return 0;
}

static int pipe_children(void) {
  int p[2];
  if (pipe(p) != 0) return 1;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutex_t *rlock = mmap(0, sizeof *rlock, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  pthread_mutex_init(rlock, &attr);
  static char message[1 << 20];
  for (int c = 0; c < 2; c++) {
    if (fork() == 0) {
      close(p[1]);
      unsigned long sum = 0;
      for (;;) {
        uint32_t size = 0;
        pthread_mutex_lock(rlock);
        ssize_t got = read(p[0], &size, sizeof size);
        size_t have = 0;
        while (got == (ssize_t)sizeof size && have < size) {
          ssize_t n = read(p[0], message + have, size - have);
          if (n <= 0) break;
          have += (size_t)n;
        }
        pthread_mutex_unlock(rlock);
        if (got != (ssize_t)sizeof size) break;
        sum += (unsigned char)message[have / 2];
      }
      _exit(sum == 12345 ? 1 : 0);
    }
  }
  close(p[0]);
  memset(message, 7, sizeof message);
  for (int i = 0; i < 640; i++) {
    uint32_t size = sizeof message;
    if (write(p[1], &size, sizeof size) != sizeof size) return 1;
    size_t done = 0;
    while (done < size) {
      ssize_t n = write(p[1], message + done, size - done);
      if (n <= 0) return 1;
      done += (size_t)n;
    }
  }
  close(p[1]);
  while (wait(0) > 0) {
  }
  printf("pipe done\n");
  return 0;
}

static volatile sig_atomic_t got_signal = 0;
static void on_usr1(int sig) {
  (void)sig;
  got_signal = 1;
}

static int signal_rounds(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, 0);
  // Whatever mask this process inherited (a test runner blocks many signals): SIGALRM and, in
  // sigsuspend, SIGUSR1 are unblocked here.
  sigset_t block, old, alarm_only;
  sigemptyset(&alarm_only);
  sigaddset(&alarm_only, SIGALRM);
  sigprocmask(SIG_UNBLOCK, &alarm_only, 0);
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &old);
  sigdelset(&old, SIGUSR1);
  pid_t parent = getpid();
  alarm(20);  // a signal lost to another thread would leave sigsuspend waiting: fail, not hang
  for (int i = 0; i < 20; i++) {
    got_signal = 0;
    if (fork() == 0) {
      kill(parent, SIGUSR1);
      _exit(0);
    }
    // Like nginx's master: busy with SIGUSR1 blocked while it arrives, then sigsuspend and
    // look at the flag after. A signal handled on another thread meanwhile is never seen here.
    spin_cpu(3000000ull);
    do sigsuspend(&old);
    while (!got_signal);
    wait(0);
  }
  printf("sigsuspend done\n");
  return 0;
}

static int stdio_reader(void) {
  int p[2];
  if (pipe(p) != 0) return 1;
  if (fork() == 0) {
    close(p[0]);
    for (int i = 0; i < 5; i++) {
      usleep(50000);
      char line[32];
      int n = snprintf(line, sizeof line, "line %d\n", i);
      if (write(p[1], line, (size_t)n) != n) _exit(1);
    }
    _exit(0);
  }
  close(p[1]);
  FILE *in = fdopen(p[0], "r");
  char line[64];
  int lines = 0;
  while (fgets(line, sizeof line, in)) lines++;
  fclose(in);
  wait(0);
  printf("stdio %d\n", lines);
  return lines == 5 ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "stdio") == 0) return stdio_reader();
  if (argc >= 2 && strcmp(argv[1], "sigsuspend") == 0) return signal_rounds();
  if (argc >= 2 && strcmp(argv[1], "pipe") == 0) return pipe_children();
  if (argc >= 2 && strcmp(argv[1], "loop") == 0) return event_loop();
  if (argc >= 3 && strcmp(argv[1], "lockshare") == 0) {
    locked_percent = atoi(argv[2]);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], 0, lock_steps, 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
    printf("lockshare done\n");
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "threads") == 0) {
    for (int i = 0; i < 200; i++) {
      pthread_t t;
      pthread_create(&t, 0, burn, (void *)(uintptr_t)i);
      pthread_join(t, 0);
    }
    printf("threads done\n");
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "flock") == 0) {
    pid_t child = fork();
    int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
    for (int i = 0; i < 4; i++) {
      flock(fd, LOCK_EX);
      usleep(50000);
      flock(fd, LOCK_UN);
      usleep(1000);
    }
    close(fd);
    if (child > 0) {
      waitpid(child, 0, 0);
      printf("flock done\n");
    }
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "retrylock") == 0) {
    // Three processes update one file under an fcntl lock taken SQLite's way: try, and on
    // failure sleep 1 ms and try again; each holds it 20 ms of work, 6 times.
    pid_t children[2];
    for (int c = 0; c < 2; c++) children[c] = fork() == 0 ? 0 : 1;
    (void)children;
    int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
    for (int i = 0; i < 6; i++) {
      struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
      while (fcntl(fd, F_SETLK, &l) != 0) usleep(1000);
      spin_cpu(5000000ull);
      usleep(15000);
      l.l_type = F_UNLCK;
      fcntl(fd, F_SETLK, &l);
      usleep(500);
    }
    close(fd);
    while (wait(0) > 0) {
    }
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "storage") == 0) {
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char block[4096];
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 20; i++) {
      if (write(fd, block, sizeof block) < 0) return 1;
      fsync(fd);
    }
    close(fd);
    for (int i = 0; i < 10; i++) usleep(5000);
    printf("storage done\n");
    return 0;
  }
  return 2;
}
