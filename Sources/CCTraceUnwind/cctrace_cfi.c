// cctrace_cfi.c — unwinds a stack that the SIGPROF handler copied, by the DWARF call-frame
// information (.eh_frame) of the loaded images. See cctrace_cfi.h.
//
// Nothing here runs in signal context: the handler only copies registers and stack bytes. This
// file runs on the recorder's writer thread, where taking the loader's lock (dl_iterate_phdr)
// and reading the images' unwind tables is safe. Every read of the sampled thread's stack goes
// to the copy and is bounds-checked; every read of unwind tables stays inside the image's
// PT_GNU_EH_FRAME / PT_LOAD segments, which stay mapped while the image is loaded (the cache is
// rebuilt whenever the loader reports an image removed).
#define _GNU_SOURCE
#include "cctrace_cfi.h"

#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

// MARK: - Images and their .eh_frame_hdr

typedef struct {
  uintptr_t start, end;  // executable PT_LOAD range
  const uint8_t *hdr;    // .eh_frame_hdr
  uintptr_t hdr_end;
  uintptr_t lo, hi;      // every PT_LOAD of the image (bounds for table reads)
} image_t;

#define MAX_IMAGES 512
static image_t images[MAX_IMAGES];
static int image_count = -1;
static unsigned long long seen_adds = 0, seen_subs = 0;
static pthread_mutex_t images_lock = PTHREAD_MUTEX_INITIALIZER;

static int collect(struct dl_phdr_info *info, size_t size, void *data) {
  (void)data;
  if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
    seen_adds = info->dlpi_adds;
    seen_subs = info->dlpi_subs;
  }
  const ElfW(Phdr) *eh = 0;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *p = &info->dlpi_phdr[i];
    if (p->p_type == PT_GNU_EH_FRAME) eh = p;
    if (p->p_type == PT_LOAD) {
      uintptr_t a = info->dlpi_addr + p->p_vaddr;
      if (a < lo) lo = a;
      if (a + p->p_memsz > hi) hi = a + p->p_memsz;
    }
  }
  if (!eh) return 0;
  for (int i = 0; i < info->dlpi_phnum && image_count < MAX_IMAGES; i++) {
    const ElfW(Phdr) *p = &info->dlpi_phdr[i];
    if (p->p_type != PT_LOAD || !(p->p_flags & PF_X)) continue;
    image_t *m = &images[image_count++];
    m->start = info->dlpi_addr + p->p_vaddr;
    m->end = m->start + p->p_memsz;
    m->hdr = (const uint8_t *)(info->dlpi_addr + eh->p_vaddr);
    m->hdr_end = (uintptr_t)m->hdr + eh->p_memsz;
    m->lo = lo;
    m->hi = hi;
  }
  return 0;
}

static void refresh(void) {
  image_count = 0;
  dl_iterate_phdr(collect, 0);
}

// Whether the loader added or removed an image since the cache was built.
static int changed_probe(struct dl_phdr_info *info, size_t size, void *data) {
  int *changed = data;
  if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
    *changed = info->dlpi_adds != seen_adds || info->dlpi_subs != seen_subs;
  else
    *changed = 1;
  return 1;  // the first image is enough: the counters are global
}

typedef struct {
  void (*body)(void *);
  void *context;
  int ran;
} with_images_t;

// Called by dl_iterate_phdr with the loader's lock held: no image can be unloaded while the
// body unwinds (an image's tables stay mapped). The body runs once, for the first image.
static int run_with_images(struct dl_phdr_info *info, size_t size, void *data) {
  (void)info;
  (void)size;
  with_images_t *w = data;
  if (w->ran) return 1;
  w->ran = 1;
  int changed = 1;
  if (image_count >= 0) dl_iterate_phdr(changed_probe, &changed);  // the loader's lock is recursive
  if (changed) refresh();
  w->body(w->context);
  return 1;
}

void cctrace_cfi_with_images(void (*body)(void *), void *context) {
  pthread_mutex_lock(&images_lock);
  with_images_t w = {body, context, 0};
  dl_iterate_phdr(run_with_images, &w);
  if (!w.ran) body(context);  // no image at all (cannot happen in a running program)
  pthread_mutex_unlock(&images_lock);
}

static const image_t *image_of(uintptr_t pc) {
  for (int i = 0; i < image_count; i++)
    if (pc >= images[i].start && pc < images[i].end) return &images[i];
  return 0;
}

// MARK: - Reading DWARF

typedef struct {
  const uint8_t *p, *end;
  int ok;
} reader_t;

static uint64_t u8(reader_t *r) {
  if (r->p + 1 > r->end) return r->ok = 0;
  return *r->p++;
}

static uint64_t fixed(reader_t *r, int bytes) {
  if (r->p + bytes > r->end) return r->ok = 0;
  uint64_t v = 0;
  memcpy(&v, r->p, (size_t)bytes);
  r->p += bytes;
  return v;
}

static uint64_t uleb(reader_t *r) {
  uint64_t v = 0;
  int shift = 0;
  while (r->ok) {
    uint64_t b = u8(r);
    if (shift < 64) v |= (b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) break;
  }
  return v;
}

static int64_t sleb(reader_t *r) {
  int64_t v = 0;
  int shift = 0;
  uint64_t b = 0;
  while (r->ok) {
    b = u8(r);
    if (shift < 64) v |= (int64_t)((b & 0x7f) << shift);
    shift += 7;
    if (!(b & 0x80)) break;
  }
  if (shift < 64 && (b & 0x40)) v |= -((int64_t)1 << shift);
  return v;
}

// A pointer in `encoding` (DW_EH_PE_*), relative to where it is read or to `data_base`.
static uint64_t pointer(reader_t *r, uint8_t encoding, uintptr_t data_base) {
  if (encoding == 0xff) return 0;
  uintptr_t here = (uintptr_t)r->p;
  uint64_t v;
  switch (encoding & 0x0f) {
    case 0x00: v = fixed(r, 8); break;
    case 0x01: v = uleb(r); break;
    case 0x02: v = fixed(r, 2); break;
    case 0x03: v = fixed(r, 4); break;
    case 0x04: v = fixed(r, 8); break;
    case 0x09: v = (uint64_t)sleb(r); break;
    case 0x0a: v = (uint64_t)(int64_t)(int16_t)fixed(r, 2); break;
    case 0x0b: v = (uint64_t)(int64_t)(int32_t)fixed(r, 4); break;
    case 0x0c: v = fixed(r, 8); break;
    default: r->ok = 0; return 0;
  }
  switch (encoding & 0x70) {
    case 0x00: break;
    case 0x10: v += here; break;
    case 0x30: v += data_base; break;
    default: r->ok = 0; return 0;  // textrel, funcrel, aligned: not used on x86-64 Linux
  }
  if (encoding & 0x80) r->ok = 0;  // indirect: would read process memory we did not bound
  return v;
}

// MARK: - Finding the FDE

typedef struct {
  const uint8_t *instructions, *instructions_end;  // CIE initial instructions
  const uint8_t *fde_instructions, *fde_end;
  uint64_t code_align;
  int64_t data_align;
  uint64_t ra_register;
  uint64_t pc_begin;
  int signal_frame;
} frame_info_t;

static int in_image(const image_t *m, const uint8_t *p, size_t n) {
  return (uintptr_t)p >= m->lo && (uintptr_t)p + n <= m->hi && (uintptr_t)p + n >= (uintptr_t)p;
}

static int parse_cie(const image_t *m, const uint8_t *cie, frame_info_t *f, uint8_t *fde_encoding) {
  if (!in_image(m, cie, 4)) return 0;
  uint64_t length = 0;
  memcpy(&length, cie, 4);
  reader_t r = {cie + 4, 0, 1};
  if (length == 0xffffffff) return 0;  // 64-bit DWARF: not produced for .eh_frame here
  r.end = cie + 4 + length;
  if (!in_image(m, cie, 4 + length)) return 0;
  if (fixed(&r, 4) != 0) return 0;  // CIE id
  uint64_t version = u8(&r);
  const char *augmentation = (const char *)r.p;
  while (r.p < r.end && *r.p) r.p++;
  r.p++;
  if (augmentation[0] == 'e' && augmentation[1] == 'h') fixed(&r, 8);
  f->code_align = uleb(&r);
  f->data_align = sleb(&r);
  f->ra_register = version == 1 ? u8(&r) : uleb(&r);
  *fde_encoding = 0;
  f->signal_frame = 0;
  const uint8_t *after_augmentation = 0;
  for (const char *a = augmentation; r.ok && *a; a++) {
    if (*a == 'z') {
      uint64_t n = uleb(&r);
      after_augmentation = r.p + n;
    } else if (*a == 'R') {
      *fde_encoding = (uint8_t)u8(&r);
    } else if (*a == 'L') {
      u8(&r);
    } else if (*a == 'P') {
      uint8_t enc = (uint8_t)u8(&r);
      reader_t skip = r;
      pointer(&skip, enc & 0x7f, 0);
      r.p = skip.p;
    } else if (*a == 'S') {
      f->signal_frame = 1;
    } else if (*a != 'e' && *a != 'h') {
      // A letter we do not know: the 'z' length says where its data ends.
      if (!after_augmentation) return 0;
      break;
    }
  }
  if (after_augmentation) r.p = after_augmentation;
  if (!r.ok || r.p > r.end) return 0;
  f->instructions = r.p;
  f->instructions_end = r.end;
  return 1;
}

// The FDE covering `pc` in image `m`, through the binary-search table of .eh_frame_hdr.
static int find_fde(const image_t *m, uintptr_t pc, frame_info_t *f) {
  const uint8_t *hdr = m->hdr;
  if ((uintptr_t)hdr + 4 > m->hdr_end || hdr[0] != 1) return 0;
  uint8_t ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
  reader_t r = {hdr + 4, (const uint8_t *)m->hdr_end, 1};
  pointer(&r, ptr_enc, (uintptr_t)hdr);
  uint64_t count = pointer(&r, count_enc, (uintptr_t)hdr);
  if (!r.ok || table_enc != 0x3b || count == 0) return 0;  // datarel sdata4 is what linkers write
  const uint8_t *table = r.p;
  if ((uintptr_t)table + count * 8 > m->hdr_end) return 0;
  uint64_t lo = 0, hi = count;
  while (hi - lo > 1) {
    uint64_t mid = (lo + hi) / 2;
    int32_t start;
    memcpy(&start, table + mid * 8, 4);
    if ((uintptr_t)hdr + start <= pc) lo = mid; else hi = mid;
  }
  int32_t start, offset;
  memcpy(&start, table + lo * 8, 4);
  memcpy(&offset, table + lo * 8 + 4, 4);
  if ((uintptr_t)hdr + start > pc) return 0;
  const uint8_t *fde = hdr + offset;
  if (!in_image(m, fde, 8)) return 0;
  uint32_t length, cie_offset;
  memcpy(&length, fde, 4);
  memcpy(&cie_offset, fde + 4, 4);
  if (length == 0xffffffff || length < 8 || !in_image(m, fde, 4 + (size_t)length)) return 0;
  uint8_t encoding;
  if (!parse_cie(m, fde + 4 - cie_offset, f, &encoding)) return 0;
  reader_t fr = {fde + 8, fde + 4 + length, 1};
  uint64_t begin = pointer(&fr, encoding, 0);
  uint64_t range = pointer(&fr, encoding & 0x0f, 0);
  if (!fr.ok || pc < begin || pc >= begin + range) return 0;
  // The CIE says whether an augmentation-data length follows ('z', always for GCC/Clang).
  uint64_t n = uleb(&fr);
  fr.p += n;
  if (!fr.ok || fr.p > fr.end) return 0;
  f->pc_begin = begin;
  f->fde_instructions = fr.p;
  f->fde_end = fr.end;
  return 1;
}

// MARK: - Running the CFA program

enum { RULE_UNDEFINED, RULE_SAME, RULE_OFFSET, RULE_VAL_OFFSET, RULE_REGISTER, RULE_UNSUPPORTED };
#define NREG 17  // x86-64 DWARF registers 0…16 (16 = return address)

typedef struct {
  uint8_t kind[NREG];
  int64_t value[NREG];
  uint64_t cfa_register;
  int64_t cfa_offset;
  int cfa_unsupported;
} rules_t;

static int run(const uint8_t *p, const uint8_t *end, const frame_info_t *f, uintptr_t target, uintptr_t *loc,
               rules_t *rules, const rules_t *initial) {
  rules_t stack[8];
  int depth = 0;
  reader_t r = {p, end, 1};
  while (r.ok && r.p < r.end && *loc <= target) {
    uint8_t op = (uint8_t)u8(&r);
    uint8_t high = op & 0xc0, low = op & 0x3f;
    uint64_t reg;
    if (high == 0x40) {
      *loc += low * f->code_align;
      continue;
    }
    if (high == 0x80) {
      int64_t off = (int64_t)uleb(&r) * f->data_align;
      if (low < NREG) rules->kind[low] = RULE_OFFSET, rules->value[low] = off;
      continue;
    }
    if (high == 0xc0) {
      if (low < NREG && initial) rules->kind[low] = initial->kind[low], rules->value[low] = initial->value[low];
      continue;
    }
    switch (op) {
      case 0x00: break;
      case 0x01: *loc = pointer(&r, 0, 0); break;  // set_loc with absptr; rare
      case 0x02: *loc += u8(&r) * f->code_align; break;
      case 0x03: *loc += fixed(&r, 2) * f->code_align; break;
      case 0x04: *loc += fixed(&r, 4) * f->code_align; break;
      case 0x05: reg = uleb(&r); {
          int64_t off = (int64_t)uleb(&r) * f->data_align;
          if (reg < NREG) rules->kind[reg] = RULE_OFFSET, rules->value[reg] = off;
        }
        break;
      case 0x06: reg = uleb(&r);
        if (reg < NREG && initial) rules->kind[reg] = initial->kind[reg], rules->value[reg] = initial->value[reg];
        break;
      case 0x07: reg = uleb(&r); if (reg < NREG) rules->kind[reg] = RULE_UNDEFINED; break;
      case 0x08: reg = uleb(&r); if (reg < NREG) rules->kind[reg] = RULE_SAME; break;
      case 0x09: reg = uleb(&r); {
          uint64_t other = uleb(&r);
          if (reg < NREG) rules->kind[reg] = RULE_REGISTER, rules->value[reg] = (int64_t)other;
        }
        break;
      case 0x0a: if (depth < 8) stack[depth++] = *rules; else return 0; break;
      case 0x0b: if (depth > 0) *rules = stack[--depth]; break;  // the whole row, CFA included
      case 0x0c: rules->cfa_register = uleb(&r); rules->cfa_offset = (int64_t)uleb(&r); rules->cfa_unsupported = 0; break;
      case 0x0d: rules->cfa_register = uleb(&r); rules->cfa_unsupported = 0; break;
      case 0x0e: rules->cfa_offset = (int64_t)uleb(&r); break;
      case 0x0f: { uint64_t n = uleb(&r); r.p += n; rules->cfa_unsupported = 1; } break;
      case 0x10: reg = uleb(&r); { uint64_t n = uleb(&r); r.p += n; }
        if (reg < NREG) rules->kind[reg] = RULE_UNSUPPORTED;
        break;
      case 0x11: reg = uleb(&r); {
          int64_t off = sleb(&r) * f->data_align;
          if (reg < NREG) rules->kind[reg] = RULE_OFFSET, rules->value[reg] = off;
        }
        break;
      case 0x12: rules->cfa_register = uleb(&r); rules->cfa_offset = sleb(&r) * f->data_align; rules->cfa_unsupported = 0; break;
      case 0x13: rules->cfa_offset = sleb(&r) * f->data_align; break;
      case 0x14: reg = uleb(&r); {
          int64_t off = (int64_t)uleb(&r) * f->data_align;
          if (reg < NREG) rules->kind[reg] = RULE_VAL_OFFSET, rules->value[reg] = off;
        }
        break;
      case 0x15: reg = uleb(&r); {
          int64_t off = sleb(&r) * f->data_align;
          if (reg < NREG) rules->kind[reg] = RULE_VAL_OFFSET, rules->value[reg] = off;
        }
        break;
      case 0x16: reg = uleb(&r); { uint64_t n = uleb(&r); r.p += n; }
        if (reg < NREG) rules->kind[reg] = RULE_UNSUPPORTED;
        break;
      case 0x2e: uleb(&r); break;  // GNU_args_size
      case 0x2f: reg = uleb(&r); {
          int64_t off = -(int64_t)uleb(&r) * f->data_align;
          if (reg < NREG) rules->kind[reg] = RULE_OFFSET, rules->value[reg] = off;
        }
        break;
      default: return 0;  // an opcode we do not know: stop rather than guess
    }
  }
  return r.ok;
}

// MARK: - Unwinding

// x86-64 DWARF register numbers of the registers a sample keeps.
static const int dwarf_of[CCTRACE_CFI_REGS] = {16, 7, 6, 3, 12, 13, 14, 15};  // rip rsp rbp rbx r12…r15

static int read_stack(const cctrace_cfi_stack *s, uintptr_t address, uint64_t *out) {
  if (address < s->base || address + 8 > s->base + s->length || address + 8 < address) return 0;
  memcpy(out, s->bytes + (address - s->base), 8);
  return 1;
}

int cctrace_cfi_unwind(const cctrace_cfi_stack *s, void **frames, int max) {
  uint64_t regs[NREG];
  uint8_t known[NREG];
  memset(known, 0, sizeof known);
  for (int i = 0; i < CCTRACE_CFI_REGS; i++) {
    regs[dwarf_of[i]] = s->registers[i];
    known[dwarf_of[i]] = 1;
  }
  int n = 0;
  for (int frame = 0; n < max; frame++) {
    uintptr_t pc = (uintptr_t)regs[16];
    if (pc == 0) break;
    frames[n++] = (void *)pc;
    // Return addresses point after the call: look up the call itself.
    uintptr_t lookup = frame == 0 ? pc : pc - 1;
    const image_t *m = image_of(lookup);
    frame_info_t f;
    rules_t rules;
    int found = m && find_fde(m, lookup, &f);
    uint64_t cfa;
    uint64_t next[NREG];
    uint8_t next_known[NREG];
    memcpy(next, regs, sizeof next);
    memcpy(next_known, known, sizeof next_known);
    if (found) {
      memset(&rules, 0, sizeof rules);
      for (int i = 0; i < NREG; i++) rules.kind[i] = RULE_SAME;
      rules.kind[16] = RULE_UNDEFINED;
      uintptr_t loc = 0;
      if (!run(f.instructions, f.instructions_end, &f, UINTPTR_MAX, &loc, &rules, 0)) break;
      rules_t initial = rules;
      loc = f.pc_begin;
      if (!run(f.fde_instructions, f.fde_end, &f, lookup, &loc, &rules, &initial)) break;
      if (rules.cfa_unsupported || rules.cfa_register >= NREG || !known[rules.cfa_register]) break;
      cfa = regs[rules.cfa_register] + (uint64_t)rules.cfa_offset;
      int ra = (int)(f.ra_register < NREG ? f.ra_register : 16);
      for (int i = 0; i < NREG; i++) {
        switch (rules.kind[i]) {
          case RULE_SAME: break;
          case RULE_UNDEFINED: next_known[i] = 0; break;
          case RULE_OFFSET: next_known[i] = (uint8_t)read_stack(s, (uintptr_t)(cfa + (uint64_t)rules.value[i]), &next[i]); break;
          case RULE_VAL_OFFSET: next[i] = cfa + (uint64_t)rules.value[i]; next_known[i] = 1; break;
          case RULE_REGISTER:
            if (rules.value[i] >= 0 && rules.value[i] < NREG) {
              next[i] = regs[rules.value[i]];
              next_known[i] = known[rules.value[i]];
            } else {
              next_known[i] = 0;
            }
            break;
          default: next_known[i] = 0; break;
        }
      }
      if (ra != 16) next[16] = next[ra], next_known[16] = next_known[ra];
      if (rules.kind[ra] == RULE_UNDEFINED) break;  // the outermost frame
    } else {
      // No unwind table (generated code, a stripped image): try the frame-pointer chain.
      if (!known[6]) break;
      uint64_t saved_rbp, ret;
      if (!read_stack(s, (uintptr_t)regs[6], &saved_rbp) || !read_stack(s, (uintptr_t)regs[6] + 8, &ret)) break;
      cfa = regs[6] + 16;
      next[6] = saved_rbp;
      next[16] = ret;
      next_known[16] = 1;
    }
    if (!next_known[16]) break;
    next[7] = cfa;
    next_known[7] = 1;
    // The stack unwinds toward higher addresses; anything else is a loop or garbage.
    if (next[7] <= regs[7]) break;
    memcpy(regs, next, sizeof regs);
    memcpy(known, next_known, sizeof known);
  }
  return n;
}
