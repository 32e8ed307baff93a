// cctrace_unwind.h — stack capture through Debian's libunwind.
//
// libunwind is opened with dlopen(RTLD_LOCAL) instead of being linked: Debian's build exports
// unversioned `_Unwind_*` symbols that would otherwise interpose the libgcc unwinder that Swift
// errors, C++ exceptions and the Swift crash reporter rely on. Opened locally, only the
// functions we look up by name are used.
#ifndef CCTRACE_UNWIND_H
#define CCTRACE_UNWIND_H

#ifdef __cplusplus
extern "C" {
#endif

/// Loads libunwind once (thread-safe). Returns 1 when stack capture is available. Call it before
/// the first capture from a signal handler: loading is not async-signal-safe, capturing is.
int cctrace_unwind_load(void);

/// libunwind's `unw_backtrace` (`int (*)(void **, int)`), or NULL before a successful load.
void *cctrace_unwind_function(void);

/// Captures up to `max` return addresses of the calling thread into `buffer`, innermost first,
/// skipping this function. Returns the number captured, 0 when libunwind is unavailable.
int cctrace_backtrace(void **buffer, int max);

/// The path of the loaded image (executable or shared object) that contains `address`, or
/// NULL. The string belongs to the dynamic loader.
const char *cctrace_image_path(const void *address);

/// The load address of the image that contains `address` (what debug-info tools subtract), or
/// NULL.
const void *cctrace_image_base(const void *address);

/// The address of `symbol` as the dynamic loader resolves it for the whole process.
void *cctrace_global_symbol(const char *symbol);

/// Names the function containing `address`: the ELF symbol (from `.symtab`, so non-exported
/// Swift functions are found too, else `.dynsym`) of the loaded image that contains it, copied
/// (still mangled) into `name`. `image` receives the image's path (owned by the loader or this
/// module), `offset` the distance from the symbol's start. Returns 1 on success. Not
/// async-signal-safe (it may open and map the image): call it off the hot path.
int cctrace_symbolize(const void *address, char *name, unsigned long name_size, const char **image,
                      unsigned long *offset);

#ifdef __cplusplus
}
#endif

#endif
