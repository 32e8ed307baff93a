// lockbench — what libcctrace-preload.so costs a C program. Prints `name: value` lines:
//   uncontended_ns   one pthread_mutex_lock + unlock pair on one thread
//   contended_ms     4 threads × 200,000 short critical sections on one mutex (wall time)
// Run it plain and under LD_PRELOAD (make preload-bench does both and prints the ratios).
// An idle second thread exists throughout: the shim starts a sampler thread, and glibc takes
// cheaper, non-atomic paths while a process is single-threaded — comparing a single-threaded
// plain run with a two-threaded traced one would measure that, not the shim.
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static volatile unsigned long counter = 0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *worker(void *arg) {
  (void)arg;
  for (int i = 0; i < 200000; i++) {
    pthread_mutex_lock(&mutex);
    for (int k = 0; k < 20; k++) counter++;
    pthread_mutex_unlock(&mutex);
  }
  return 0;
}

static void *idle(void *arg) {
  (void)arg;
  for (;;) pause();
  return 0;
}

int main(void) {
  pthread_t idler;
  pthread_create(&idler, 0, idle, 0);
  double best = 1e30;
  for (int round = 0; round < 7; round++) {
    double start = now();
    for (int i = 0; i < 2000000; i++) {
      pthread_mutex_lock(&mutex);
      counter++;
      pthread_mutex_unlock(&mutex);
    }
    double per = (now() - start) / 2000000;
    if (per < best) best = per;
  }
  printf("uncontended_ns: %.1f\n", best);
  double bestWall = 1e30;
  for (int round = 0; round < 3; round++) {
    pthread_t threads[4];
    double start = now();
    for (int t = 0; t < 4; t++) pthread_create(&threads[t], 0, worker, 0);
    for (int t = 0; t < 4; t++) pthread_join(threads[t], 0);
    double wall = (now() - start) / 1e6;
    if (wall < bestWall) bestWall = wall;
  }
  printf("contended_ms: %.1f\n", bestWall);
  return 0;
}
