// cctrace_unwind.c — see cctrace_unwind.h for why libunwind is opened RTLD_LOCAL.
#define _GNU_SOURCE
#include "cctrace_unwind.h"

#include <dlfcn.h>
#include <libunwind.h>
#include <elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// `unw_backtrace` is a macro that names an architecture-specific symbol (e.g.
// `_Ux86_64_backtrace`); turn the macro into the string dlsym needs.
#define CCTRACE_STR2(x) #x
#define CCTRACE_STR(x) CCTRACE_STR2(x)

typedef int (*backtrace_fn)(void **, int);

static backtrace_fn backtrace_impl = 0;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
  static const char *const names[] = {"libunwind.so.8", "libunwind.so"};
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    void *handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) continue;
    backtrace_impl = (backtrace_fn)dlsym(handle, CCTRACE_STR(unw_backtrace));
    if (backtrace_impl) return;
  }
}

int cctrace_unwind_load(void) {
  pthread_once(&load_once, load);
  return backtrace_impl != 0;
}

void *cctrace_unwind_function(void) { return (void *)__atomic_load_n(&backtrace_impl, __ATOMIC_ACQUIRE); }

__attribute__((noinline)) int cctrace_backtrace(void **buffer, int max) {
  backtrace_fn fn = __atomic_load_n(&backtrace_impl, __ATOMIC_ACQUIRE);
  if (!fn || max <= 0) return 0;
  void *frames[max + 1];
  int n = fn(frames, max + 1);
  int out = 0;
  for (int i = 1; i < n; i++) buffer[out++] = frames[i];
  return out;
}

const char *cctrace_image_path(const void *address) {
  Dl_info info;
  if (!dladdr(address, &info)) return 0;
  return info.dli_fname;
}

void *cctrace_global_symbol(const char *symbol) { return dlsym(RTLD_DEFAULT, symbol); }

const void *cctrace_image_base(const void *address) {
  Dl_info info;
  if (!dladdr(address, &info)) return 0;
  return info.dli_fbase;
}

// MARK: - Symbols

// Images are mapped read-only once and kept: symbolization happens off the hot path, for the
// few stacks a trace records, and the images stay loaded while the process lives.
typedef struct {
  char path[1024];
  const unsigned char *data;
  size_t size;
} mapped_image;

static mapped_image images[64];
static int image_count = 0;
static pthread_mutex_t images_lock = PTHREAD_MUTEX_INITIALIZER;

static const mapped_image *map_image(const char *path) {
  for (int i = 0; i < image_count; i++)
    if (strcmp(images[i].path, path) == 0) return images[i].data ? &images[i] : 0;
  if (image_count == 64) return 0;
  mapped_image *m = &images[image_count++];
  strncpy(m->path, path, sizeof m->path - 1);
  m->data = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof(Elf64_Ehdr)) {
    void *p = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      m->data = p;
      m->size = (size_t)st.st_size;
    }
  }
  close(fd);
  return m->data ? m : 0;
}

// The function symbol of `image` that contains virtual address `vaddr`, preferring .symtab.
static const char *find_symbol(const mapped_image *image, uint64_t vaddr, uint64_t *start) {
  const unsigned char *d = image->data;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)d;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return 0;
  if (eh->e_shoff == 0 || eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > image->size) return 0;
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(d + eh->e_shoff);
  const char *best = 0;
  uint64_t best_start = 0;
  for (int pass = 0; pass < 2 && !best; pass++) {
    uint32_t wanted = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
    for (int i = 0; i < eh->e_shnum; i++) {
      if (sh[i].sh_type != wanted || sh[i].sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr *strtab = &sh[sh[i].sh_link];
      if (sh[i].sh_offset + sh[i].sh_size > image->size || strtab->sh_offset + strtab->sh_size > image->size)
        continue;
      const Elf64_Sym *syms = (const Elf64_Sym *)(d + sh[i].sh_offset);
      size_t n = sh[i].sh_size / sizeof(Elf64_Sym);
      const char *names = (const char *)(d + strtab->sh_offset);
      for (size_t k = 0; k < n; k++) {
        const Elf64_Sym *sym = &syms[k];
        if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_value == 0) continue;
        uint64_t size = sym->st_size ? sym->st_size : 1;
        if (vaddr < sym->st_value || vaddr >= sym->st_value + size) continue;
        if (sym->st_name >= strtab->sh_size) continue;
        if (!best || sym->st_value > best_start) {
          best = names + sym->st_name;
          best_start = sym->st_value;
        }
      }
    }
  }
  *start = best_start;
  return best;
}

int cctrace_symbolize(const void *address, char *name, unsigned long name_size, const char **image,
                      unsigned long *offset) {
  Dl_info info;
  if (!dladdr(address, &info) || !info.dli_fbase) return 0;
  const char *path = info.dli_fname && info.dli_fname[0] ? info.dli_fname : "/proc/self/exe";
  if (image) *image = path;
  pthread_mutex_lock(&images_lock);
  const mapped_image *m = map_image(path);
  if (!m && strcmp(path, "/proc/self/exe") != 0) m = map_image("/proc/self/exe");
  const char *symbol = 0;
  uint64_t start = 0;
  if (m) {
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)m->data;
    uint64_t bias = eh->e_type == ET_DYN ? (uint64_t)(uintptr_t)info.dli_fbase : 0;
    symbol = find_symbol(m, (uint64_t)(uintptr_t)address - bias, &start);
    if (symbol) start += bias;
  }
  if (!symbol && info.dli_sname) {
    symbol = info.dli_sname;
    start = (uint64_t)(uintptr_t)info.dli_saddr;
  }
  int ok = 0;
  if (symbol && name_size > 0) {
    strncpy(name, symbol, name_size - 1);
    name[name_size - 1] = 0;
    if (offset) *offset = (unsigned long)((uintptr_t)address - start);
    ok = 1;
  }
  pthread_mutex_unlock(&images_lock);
  return ok;
}
