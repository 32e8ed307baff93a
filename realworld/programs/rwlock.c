// Four threads on one pthread read-write lock; writers hold it while computing, so readers and
// writers queue behind them.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static volatile uint64_t shared = 1;

static uint64_t spin(uint64_t x, int n) {
  for (int i = 0; i < n; i++) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

static void *worker(void *arg) {
  long id = (long)arg;
  uint64_t local = (uint64_t)id;
  for (int i = 0; i < 400; i++) {
    if (i % 2 == 0) {
      pthread_rwlock_wrlock(&lock);
      shared = spin(shared, 400000);  // ~1 ms under the write lock
      pthread_rwlock_unlock(&lock);
    } else {
      pthread_rwlock_rdlock(&lock);
      local += shared;
      pthread_rwlock_unlock(&lock);
    }
    local = spin(local, 100000);
  }
  return (void *)(uintptr_t)local;
}

int main(void) {
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, (void *)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
  printf("%llu\n", (unsigned long long)(shared & 0xff));
  return 0;
}
