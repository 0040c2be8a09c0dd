/* bluecl: BlueLM-V-3B-style multimodal LLM inference on OpenCL devices, with a CPU path for every op.
 *
 * The C API. Every function that can fail returns a bluecl_status; on failure,
 * bluecl_last_error() holds a message naming the problem (per thread, valid until that thread's next
 * failing call). Functions never abort the process and never print to stdout; the library logs to
 * stderr unless bluecl_set_log_callback() redirects it.
 *
 * Typical use:
 *   bluecl_model* m;  bluecl_session* s;
 *   bluecl_model_params mp = bluecl_model_default_params();
 *   if (bluecl_model_load("model.gguf", &mp, &m) != BLUECL_OK) { puts(bluecl_last_error()); ... }
 *   bluecl_session_params sp = bluecl_session_default_params();
 *   bluecl_session_create(m, &sp, &s);
 *   bluecl_generate_params gp = bluecl_generate_default_params();
 *   gp.on_token = my_callback;                 // streams text as it is generated
 *   bluecl_generate(s, "Hello", &gp, NULL);
 *   bluecl_session_free(s);  bluecl_model_free(m);
 *
 * Versions and the ABI: BLUECL_VERSION_* name the release of this header; BLUECL_ABI_VERSION counts the
 * changes to the binary interface (a struct that grows, a function added). Every params struct starts
 * with `struct_size`, filled by its *_default_params() function: the library reads a struct from a
 * program built against this header or an older one (an older, smaller struct gets the defaults for the
 * fields it lacks) and refuses one whose size it does not know (a newer header than the library, or a
 * struct not filled by *_default_params()) with BLUECL_ERR_INVALID_ARGUMENT and a message naming the
 * struct and both sizes. So always start from *_default_params() and set fields by name; a NULL params
 * pointer means the defaults. Fields are only ever appended.
 *
 * Thread safety: functions that take no handle may be called from any thread. A model may be shared by
 * several threads and several sessions; the calls that run it (session creation, prefill, decode,
 * generate, image encoding) are serialised per model by an internal lock. One session must not be
 * used from two threads at the same time. Free every session before its model.
 */
#ifndef BLUECL_BLUECL_H
#define BLUECL_BLUECL_H

#include <stddef.h>
#include <stdint.h>

/* The release (equal to bluecl_version() of the library built from this header and to the CMake
 * package version) and the ABI version (see above; bluecl_abi_version() is the library's). */
#define BLUECL_VERSION_MAJOR 0
#define BLUECL_VERSION_MINOR 1
#define BLUECL_VERSION_PATCH 0
#define BLUECL_ABI_VERSION 1

#if defined(_WIN32)
#define BLUECL_API __declspec(dllexport)
#else
#define BLUECL_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors -------------------------------------------------------------------------- */

typedef enum bluecl_status {
  BLUECL_OK = 0,
  BLUECL_ERR_INVALID_ARGUMENT = 1, /* a parameter is meaningless (NULL handle, bad value, small buffer) */
  BLUECL_ERR_BAD_FILE = 2,         /* a model or image file is corrupt, truncated or hostile */
  BLUECL_ERR_UNSUPPORTED = 3,      /* well-formed, but a type, architecture or feature bluecl lacks */
  BLUECL_ERR_DEVICE = 4,           /* an OpenCL call failed, or the requested device does not exist */
  BLUECL_ERR_OUT_OF_MEMORY = 5,
  BLUECL_ERR_CONTEXT_FULL = 6, /* the prompt (or the tokens fed) do not fit the session's context */
  BLUECL_ERR_CANCELLED = 7,    /* a callback asked to stop */
  BLUECL_ERR_IO = 8,           /* a file could not be opened, read or written */
  BLUECL_ERR_INTERNAL = 9      /* a bug in bluecl: please report it with the message */
} bluecl_status;

BLUECL_API const char* bluecl_status_name(bluecl_status status);
BLUECL_API const char* bluecl_last_error(void);
BLUECL_API const char* bluecl_version(void); /* "0.1.0" */
/* The library's ABI version: at least the BLUECL_ABI_VERSION a program was built with, else the
 * library is older than its header (params structs from that header are then refused). */
BLUECL_API int32_t bluecl_abi_version(void);

/* ---- logging ------------------------------------------------------------------------------------- */

typedef enum bluecl_log_level {
  BLUECL_LOG_DEBUG = 0,
  BLUECL_LOG_INFO = 1,
  BLUECL_LOG_WARN = 2,
  BLUECL_LOG_ERROR = 3,
  BLUECL_LOG_OFF = 4
} bluecl_log_level;

typedef void (*bluecl_log_callback)(bluecl_log_level level, const char* tag, const char* message, void* user);

/* Sends library messages to `callback` (NULL restores stderr). The level starts from the environment
 * variable BLUECL_LOG (debug, info, warn, error, off), default info. */
BLUECL_API void bluecl_set_log_callback(bluecl_log_callback callback, void* user);
BLUECL_API void bluecl_set_log_level(bluecl_log_level level);

/* ---- tracing ------------------------------------------------------------------------------------- */

/* Records what runs where (image tiles, patch embedding, vision blocks per batch and device; prefill
 * chunks; decode steps) until bluecl_trace_write, which writes a Chrome trace (JSON for chrome://tracing
 * or ui.perfetto.dev) and stops recording. */
BLUECL_API void bluecl_trace_start(void);
BLUECL_API bluecl_status bluecl_trace_write(const char* path);

/* Op profile: from bluecl_profile_start, every step waits for each op to finish on its device and times
 * it (so a profiled run is slower than a normal one: it shows where time goes, it does not measure
 * speed). bluecl_profile_table stops it and returns a markdown table of the time per step by node role
 * ("ffn_gate" over all layers), op and device, largest first; the text stays valid until the next call
 * of either function. */
BLUECL_API void bluecl_profile_start(void);
BLUECL_API const char* bluecl_profile_table(void);

/* ---- OpenCL devices ------------------------------------------------------------------------------ */

typedef struct bluecl_device_info {
  int32_t index;
  char platform[128], name[128], vendor[128], version[128], driver[128], opencl_c[64];
  int32_t is_gpu, is_cpu;
  int32_t fp16;      /* cl_khr_fp16: half arithmetic */
  int32_t subgroups; /* cl_khr_subgroups or cl_intel_subgroups */
  int32_t images, unified_memory, command_buffer;
  uint32_t compute_units, max_clock_mhz, base_align_bytes;
  uint64_t global_mem_bytes, max_alloc_bytes, local_mem_bytes;
  uint64_t max_work_group_size;
  char profile[32]; /* BLUECL_DEVICE_PROFILE that clamped the limits above ("mobile"), "" for the device's own
                     */
} bluecl_device_info;

/* The number of OpenCL devices (0 when there is no platform: bluecl then runs on the CPU); -1 with
 * bluecl_last_error() set when the devices cannot be listed (an unknown BLUECL_DEVICE_PROFILE). */
BLUECL_API int32_t bluecl_device_count(void);
BLUECL_API bluecl_status bluecl_device_get(int32_t index, bluecl_device_info* out);

/* Measured limits, the yardstick for every speed figure: memory bandwidth (a large read; a copy counting
 * bytes read plus written) and fp32 FMA rate (2 FLOP per FMA). Each call takes about a second. */
typedef struct bluecl_limits {
  char device[128];
  double read_gbps, copy_gbps, fma_gflops;
} bluecl_limits;

BLUECL_API bluecl_status bluecl_measure_host_limits(int32_t n_threads, bluecl_limits* out);
/* `device` as in bluecl_model_params (NULL: the default OpenCL device). */
BLUECL_API bluecl_status bluecl_measure_device_limits(const char* device, bluecl_limits* out);

/* ---- models -------------------------------------------------------------------------------------- */

typedef struct bluecl_model bluecl_model;

/* Progress of long steps ("loading weights", "compiling kernels", "encoding image"): fraction in
 * [0, 1]. Returning non-zero cancels the step (BLUECL_ERR_CANCELLED). */
typedef int (*bluecl_progress_callback)(const char* stage, float fraction, void* user);

/* ---- auto-tuning -------------------------------------------------------------------------------------- */

/* The launch kept for one kernel key ("matmul/q4_0/gemv", "rms_norm", ...). */
typedef struct bluecl_tune_result {
  const char* key;
  const char* best;  /* "rows items=8"; "default" when the built-in choice stayed fastest */
  double default_ms; /* the built-in choice, summed over the key's shapes (0 if it was wrong) */
  double best_ms;
  int32_t n_tried;    /* candidate launches run */
  int32_t n_rejected; /* of them: wrong results or refused by the device */
} bluecl_tune_result;
typedef void (*bluecl_tune_callback)(const bluecl_tune_result* result, void* user);

typedef struct bluecl_tune_params {
  uint32_t struct_size; /* sizeof, set by bluecl_tune_default_params() */
  const char* device;   /* as in bluecl_model_params; must name an OpenCL device */
  const char* model;    /* NULL: the full-size bluelm-v-3b shapes; else this LLM's matrices ... */
  const char* mmproj;   /* ... and/or this vision tower's */
  int32_t n_chunk;      /* rows of the prefill shapes (0: 128) */
  int32_t quick;        /* 1: a few small shapes and candidates (tests) */
  int32_t save;         /* 1 (default): write the tuning file that later runs read */
  int32_t n_threads;    /* for the CPU reference every candidate is checked against (0: every core) */
  bluecl_progress_callback progress;
  void* progress_user;
  bluecl_tune_callback on_result;
  void* result_user;
} bluecl_tune_params;

BLUECL_API bluecl_tune_params bluecl_tune_default_params(void);
/* Tries each hot kernel's launch parameters on the device at the model's shapes, keeps the fastest launch
 * whose result matches the CPU reference, and (with save) writes the choices to the device's tuning file
 * in the cache directory (keyed by device and driver), whose path goes to `file` (may be NULL). Every
 * later model load on that device uses them; BLUECL_TUNING=off ignores them. Minutes at full size. */
BLUECL_API bluecl_status bluecl_tune(const bluecl_tune_params* params, char* file, size_t file_cap);

typedef struct bluecl_model_params {
  uint32_t struct_size; /* sizeof, set by bluecl_model_default_params() */
  const char* device;   /* NULL or "": BLUECL_DEVICE, else the first GPU, else the first OpenCL device,
                           else the CPU; "cpu": the CPU alone; a number: that OpenCL device; other text: the
                           first device whose platform or name contains it */
  int32_t n_threads;    /* CPU threads; 0: BLUECL_THREADS, else every core */
  const char* pins;     /* placement pins "pattern=device,..." e.g. "output*=cpu" (NULL: none) */
  int32_t vocab_only;   /* load only the tokenizer (for vocabulary files) */
  bluecl_progress_callback progress;
  void* progress_user;
  int32_t exact_cpu;     /* 1: the CPU runs the exact fp32 reference path (for comparisons with other
                            engines; several times slower); 0 (default): its fast path, with quantised
                            matmuls on 8-bit activations (as llama.cpp's CPU backend) */
  const char* placement; /* "cost" (each op where a per-device calibration says it is fastest; the
                            calibration runs once and is cached), "device" (the OpenCL device unless it
                            declines the op), NULL: BLUECL_PLACEMENT, else "cost" */
} bluecl_model_params;

BLUECL_API bluecl_model_params bluecl_model_default_params(void);
BLUECL_API bluecl_status bluecl_model_load(const char* path, const bluecl_model_params* params,
                                           bluecl_model** out);
BLUECL_API void bluecl_model_free(bluecl_model* model);

typedef struct bluecl_model_info {
  char arch[32];
  int64_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
  uint64_t weight_bytes;
  /* What one token costs: the weights every token multiplies (layers' matrices and the output head; not
   * the embedding table), as a count (2 FLOPs each) and as bytes read (decode's floor). */
  uint64_t matmul_params, matmul_weight_bytes;
  int32_t bos, eos;  /* -1 if the vocabulary has none */
  char devices[256]; /* "cpu (2 threads), cl0 (...)" */
  /* OpenCL programs built so far: compiled from source, or loaded from the on-disk binary cache. */
  int32_t programs_compiled, programs_cached;
  double compile_ms, cache_load_ms;
  /* OpenCL device memory held now and at most so far (weights, activations, KV caches). */
  uint64_t device_bytes, device_peak_bytes;
} bluecl_model_info;

BLUECL_API bluecl_status bluecl_model_get_info(const bluecl_model* model, bluecl_model_info* out);

/* ---- tokenizer ----------------------------------------------------------------------------------- */

/* Tokenises `text` (`len` bytes; no terminator needed). add_special: BOS (and EOS) as the vocabulary
 * asks; parse_special: text such as "<s>" maps to control tokens. Writes at most `capacity` ids; *n_tokens
 * receives the count needed (if it exceeds capacity, nothing is written and BLUECL_ERR_INVALID_ARGUMENT
 * is returned, so call again with a larger buffer). */
BLUECL_API bluecl_status bluecl_tokenize(const bluecl_model* model, const char* text, size_t len,
                                         int32_t add_special, int32_t parse_special, int32_t* tokens,
                                         size_t capacity, size_t* n_tokens);
/* The text of a token sequence, NUL-terminated; *len receives the length needed (without the NUL). */
BLUECL_API bluecl_status bluecl_detokenize(const bluecl_model* model, const int32_t* tokens, size_t n_tokens,
                                           char* text, size_t capacity, size_t* len);

/* ---- sessions ------------------------------------------------------------------------------------ */

typedef struct bluecl_session bluecl_session;

typedef enum bluecl_kv_type {
  BLUECL_KV_DEFAULT = 0, /* f16 where the cache's device has fp16 (and on the CPU), else f32 */
  BLUECL_KV_F32 = 1,
  BLUECL_KV_F16 = 2,
  BLUECL_KV_Q8_0 = 3 /* int8 with one scale per 32 values (the paper's choice) */
} bluecl_kv_type;

typedef struct bluecl_session_params {
  uint32_t struct_size; /* sizeof, set by bluecl_session_default_params() */
  int32_t n_ctx;        /* 0: the model's trained context, at most 2048 */
  int32_t n_chunk;      /* prefill chunk size, default 128 */
  bluecl_kv_type kv_type;
  int32_t all_logits; /* keep the logits of every token fed (bluecl_session_logits), not just the last */
} bluecl_session_params;

BLUECL_API bluecl_session_params bluecl_session_default_params(void);
/* Creates a session and prepares it: weights reach their devices and kernels are compiled (with the
 * model's progress callback), so the first prefill does no one-time work. */
BLUECL_API bluecl_status bluecl_session_create(bluecl_model* model, const bluecl_session_params* params,
                                               bluecl_session** out);
BLUECL_API void bluecl_session_free(bluecl_session* session);

/* Appends tokens to the session (chunked prefill). BLUECL_ERR_CONTEXT_FULL if they do not fit. A call that
 * fails part way (an OpenCL error: BLUECL_ERR_DEVICE, BLUECL_ERR_OUT_OF_MEMORY) leaves the session as it
 * was before the call, its logits included, as do the other prefill calls and bluecl_generate's prompt. */
BLUECL_API bluecl_status bluecl_session_prefill(bluecl_session* session, const int32_t* tokens,
                                                size_t n_tokens);
/* Appends n_tokens input embeddings [n_tokens][n_embd] (e.g. image tokens). */
BLUECL_API bluecl_status bluecl_session_prefill_embeddings(bluecl_session* session, const float* embd,
                                                           size_t n_tokens);
/* One step of a caller's own decode loop: appends `token` and points *logits to the logits that follow
 * it ([n_vocab] floats, valid until the session is next used). The same as bluecl_session_prefill of one
 * token then bluecl_session_logits' last row, in one call. BLUECL_ERR_CONTEXT_FULL when the context is
 * full (the session is then unchanged); n_vocab may be NULL. */
BLUECL_API bluecl_status bluecl_session_decode(bluecl_session* session, int32_t token, const float** logits,
                                               size_t* n_vocab);
/* The logits of the tokens fed by the last prefill: one row [n_vocab], or every row with all_logits.
 * The pointer stays valid until the session is next used. */
BLUECL_API bluecl_status bluecl_session_logits(bluecl_session* session, const float** logits, size_t* n_rows,
                                               size_t* n_vocab);
BLUECL_API int32_t bluecl_session_n_past(const bluecl_session* session);
BLUECL_API int32_t bluecl_session_n_ctx(const bluecl_session* session);
/* The placement plan of the graph that feeds n_tokens tokens at once (n_chunk for prefill, 1 for
 * decode): every node with its device and the reason, and the transfers between devices. NUL-terminated;
 * *len receives the length needed. */
BLUECL_API bluecl_status bluecl_session_plan(bluecl_session* session, int32_t n_tokens, char* text,
                                             size_t capacity, size_t* len);
/* Forgets every token after the first n_keep (a kept prefix, such as an encoded image, is reused). */
BLUECL_API bluecl_status bluecl_session_truncate(bluecl_session* session, int32_t n_keep);

/* Session state: what a session holds (the KV cache rows of its n_past positions, read back from the
 * cache's device; the tokens fed, with -1 for image tokens; the logits of the last token) as bytes, to
 * continue the conversation later, in another session or another process: a loaded state continues
 * exactly as the saved session would have (generate with an empty prompt, or prefill more). Sampling
 * has no state to save (each bluecl_generate call seeds its own sampler). A state loads only into a
 * session of the same model (a fingerprint of its hyper-parameters, tensors and some weights is
 * checked) with the same KV type, and with a context of at least its n_past: otherwise
 * BLUECL_ERR_INVALID_ARGUMENT (another model, another KV type) or BLUECL_ERR_CONTEXT_FULL, naming
 * both. A truncated or corrupt state (a checksum covers it) is BLUECL_ERR_BAD_FILE, a newer format
 * BLUECL_ERR_UNSUPPORTED; a refused state leaves the session unchanged. The devices of the two sessions
 * may differ. A state's size: 64 bytes, 4 per position, 4 * n_vocab for the logits, and the KV rows in
 * use (2 * layers * n_past rows of n_head_kv * head_dim values of the KV type). */
BLUECL_API bluecl_status bluecl_session_state_size(bluecl_session* session, size_t* size);
/* Writes the state into buf; *size receives its length (if it exceeds capacity, nothing is written and
 * BLUECL_ERR_INVALID_ARGUMENT is returned: call bluecl_session_state_size first). */
BLUECL_API bluecl_status bluecl_session_state_save(bluecl_session* session, void* buf, size_t capacity,
                                                   size_t* size);
BLUECL_API bluecl_status bluecl_session_state_load(bluecl_session* session, const void* buf, size_t size);
/* The same through a file: written whole or not at all (a temporary renamed over `path`); a file that
 * cannot be opened or written gives BLUECL_ERR_IO. */
BLUECL_API bluecl_status bluecl_session_state_save_file(bluecl_session* session, const char* path);
BLUECL_API bluecl_status bluecl_session_state_load_file(bluecl_session* session, const char* path);
/* The tokens fed so far (one per position, -1 for an image token); *n_tokens receives n_past (if it
 * exceeds capacity, nothing is written and BLUECL_ERR_INVALID_ARGUMENT is returned). */
BLUECL_API bluecl_status bluecl_session_tokens(const bluecl_session* session, int32_t* tokens,
                                               size_t capacity, size_t* n_tokens);

/* ---- sampling and generation --------------------------------------------------------------------- */

typedef struct bluecl_sampler_params {
  uint32_t struct_size;  /* sizeof, set by bluecl_sampler_default_params() */
  float temperature;     /* <= 0: greedy. Default 0.8 */
  int32_t top_k;         /* <= 0: off. Default 40 */
  float top_p;           /* >= 1: off. Default 0.95 */
  float min_p;           /* <= 0: off. Default 0.05 */
  float repeat_penalty;  /* 1: off (default) */
  int32_t repeat_last_n; /* tokens the penalty looks back over. Default 64 */
  uint64_t seed;         /* default 0 */
} bluecl_sampler_params;

BLUECL_API bluecl_sampler_params bluecl_sampler_default_params(void);

/* Called for each generated token with the text it completes (may be empty: a partial UTF-8 character
 * or text that might begin a stop string is held back). Return non-zero to stop (BLUECL_ERR_CANCELLED is
 * NOT returned for this: generation ends normally with stop reason "cancelled"). */
typedef int (*bluecl_token_callback)(int32_t token, const char* text, size_t len, void* user);

typedef enum bluecl_stop_reason {
  BLUECL_STOP_BUDGET = 0,    /* n_predict tokens generated */
  BLUECL_STOP_EOG = 1,       /* the model produced an end-of-generation token */
  BLUECL_STOP_STRING = 2,    /* a stop string appeared (it is not part of the streamed text) */
  BLUECL_STOP_CANCELLED = 3, /* the token callback returned non-zero */
  BLUECL_STOP_CONTEXT = 4    /* the context is full */
} bluecl_stop_reason;

typedef struct bluecl_generate_params {
  uint32_t struct_size; /* sizeof, set by bluecl_generate_default_params() */
  int32_t n_predict;    /* tokens to generate; < 0: until EOS, a stop string or the context end */
  bluecl_sampler_params sampling;
  const char* const* stop; /* stop strings (n_stop of them) */
  size_t n_stop;
  int32_t chat; /* wrap the prompt in BlueLM's template "[|Human|]:{prompt}\n[|AI|]:" */
  bluecl_token_callback on_token;
  void* user;
  /* Images for the prompt's "<image>" markers, in order (see "images" below); n_images of them. */
  const struct bluecl_image* const* images;
  size_t n_images;
} bluecl_generate_params;

typedef struct bluecl_generate_stats {
  int32_t n_prompt, n_generated;
  double prefill_ms, decode_ms;
  bluecl_stop_reason stop_reason;
} bluecl_generate_stats;

BLUECL_API bluecl_generate_params bluecl_generate_default_params(void);
/* Tokenises `prompt` (with BOS when the session is empty), prefills it and generates. `stats` may be
 * NULL. An empty prompt continues from what the session holds. A decode step that fails (an OpenCL error)
 * leaves the session holding the tokens fed before it: the token it was feeding, the last one sampled
 * (already passed to on_token unless it ended the turn), is not among them, so generating again with an
 * empty prompt samples it again.
 * Images: each "<image>" marker in the prompt is replaced by the next image's embeddings (the text
 * around them is tokenised piece by piece, BOS only at the very start). With `chat` and a prompt
 * without markers, "<im_start><image><im_end>" is put before the question once per image, as in
 * BlueLM's template "[|Human|]:<im_start><image><im_end>{question}\n[|AI|]:". The number of markers
 * must equal n_images (BLUECL_ERR_INVALID_ARGUMENT otherwise); when the model has a vision tower this
 * holds even for n_images = 0, and without one (and without images) "<image>" is plain text. With chat
 * or images, control-token text ("<im_start>", "<im_end>" where the vocabulary has them) maps to those
 * tokens. stats->n_prompt counts text and image tokens. */
BLUECL_API bluecl_status bluecl_generate(bluecl_session* session, const char* prompt,
                                         const bluecl_generate_params* params, bluecl_generate_stats* stats);

/* ---- images -------------------------------------------------------------------------------------- */

typedef struct bluecl_grid_params {
  uint32_t struct_size; /* sizeof, set by bluecl_grid_default_params() */
  int32_t tile;         /* 384 */
  int32_t max_grid;     /* largest columns or rows: 4 */
  int32_t max_tiles;    /* cap on columns * rows: 8 */
  float alpha;          /* relaxed matching's tolerance: 0.1 */
  int32_t llava_next;   /* use LLaVA-NeXT's rule instead (for comparison) */
} bluecl_grid_params;

BLUECL_API bluecl_grid_params bluecl_grid_default_params(void);
/* The tile grid chosen for a width x height image: m columns, n rows, and the image token count
 * (196 per tile, plus the thumbnail). */
BLUECL_API bluecl_status bluecl_image_grid(int32_t width, int32_t height, const bluecl_grid_params* params,
                                           int32_t* m, int32_t* n, int32_t* n_tokens);

/* Vision: an mmproj file (SigLIP-style ViT + token downsampler + MLP projector) turns images into image
 * tokens in the language model's embedding space. An image is cut into a tile grid chosen by relaxed
 * aspect-ratio matching with the mmproj's tile size and grid limits, plus a thumbnail; its tiles
 * (thumbnail first, then row by row) run through the vision tower in batches of `vision_batch`.
 *
 * Encoding is decoupled from generation (the paper's "decoupled image encoding"): the encode calls
 * decode the image (a bad file fails there and then), start the vision tower on a worker thread of the
 * model and return at once, so an app can encode an image as soon as it arrives, while the user is still
 * typing, and meanwhile prefill text on the language model (the tower has devices of its own). Whatever
 * needs the image tokens (bluecl_image_wait, bluecl_image_embeddings, bluecl_session_prefill_image,
 * bluecl_generate with the image) waits for them, and reports an error the encoding ended with.
 * Encodes run one at a time, in order. The progress callback ("encoding image", after each batch) runs
 * on the worker thread; a non-zero return cancels that encode. When the worker runs out of images, it
 * frees the tower's weights (device copies and mapped pages) so peak memory drops; the next encode loads
 * them again (bluecl_model_set_vision_release(model, 0) keeps them, for conversations with many images).
 * A bluecl_image is immutable once encoded and may be read from several threads. Images stay valid after
 * their model is freed (an unfinished one then reports BLUECL_ERR_CANCELLED). */

typedef struct bluecl_image bluecl_image;

/* Loads the vision tower of an mmproj GGUF file onto the model's devices (a second call replaces the
 * first). Its projection size must equal the language model's hidden size (BLUECL_ERR_INVALID_ARGUMENT
 * naming both otherwise). */
BLUECL_API bluecl_status bluecl_model_load_mmproj(bluecl_model* model, const char* path);
/* A model with a vision tower and no language model, for encoding images alone (bluecl encode). The
 * language-model functions (tokenize, get_info, session_create) return BLUECL_ERR_INVALID_ARGUMENT for it. */
BLUECL_API bluecl_status bluecl_model_load_vision(const char* mmproj_path, const bluecl_model_params* params,
                                                  bluecl_model** out);
/* Tiles per vision-tower run (1..64, default 4, the paper's best on its NPU): a device-tuned parameter.
 * May be called before or after bluecl_model_load_mmproj. */
BLUECL_API bluecl_status bluecl_model_set_vision_batch(bluecl_model* model, int32_t batch);

typedef struct bluecl_vision_info {
  int32_t image_size; /* tile side in pixels */
  int32_t patch_size;
  int32_t n_patches; /* ViT tokens per tile */
  int32_t n_embd;    /* ViT hidden size */
  int32_t n_layer;
  int32_t tokens_per_tile; /* image tokens per tile after the 2x2 downsampler */
  int32_t proj_dim;        /* image token size (= the language model's hidden size) */
  int32_t max_grid, max_tiles;
  int32_t vision_batch;
  uint64_t weight_bytes;
  int32_t weights_resident; /* 0 after the worker freed them (see bluecl_model_set_vision_release) */
  /* OpenCL device memory the tower holds now (weights, activations; 0 on the CPU alone), read without
   * waiting for a running encode. bluecl_model_info's device_bytes counts the language model's. */
  uint64_t device_bytes;
} bluecl_vision_info;

/* BLUECL_ERR_INVALID_ARGUMENT when the model has no vision tower. */
BLUECL_API bluecl_status bluecl_model_get_vision_info(const bluecl_model* model, bluecl_vision_info* out);

/* Decodes a PNG or JPEG file (EXIF orientation applied) and encodes it. A missing file gives
 * BLUECL_ERR_IO, a corrupt one BLUECL_ERR_BAD_FILE, an unknown format BLUECL_ERR_UNSUPPORTED. */
BLUECL_API bluecl_status bluecl_image_encode_file(bluecl_model* model, const char* path, bluecl_image** out);
/* Encodes 8-bit interleaved RGB pixels [height][width][3]. */
BLUECL_API bluecl_status bluecl_image_encode_rgb(bluecl_model* model, const uint8_t* rgb, int32_t width,
                                                 int32_t height, bluecl_image** out);
/* Encodes n_tiles tiles already cut and normalised: float [n_tiles][3][image_size][image_size]. The
 * image's grid is then unknown (0:0). */
BLUECL_API bluecl_status bluecl_image_encode_tiles(bluecl_model* model, const float* tiles, int32_t n_tiles,
                                                   bluecl_image** out);
/* The image tokens: *embd points to [n_tokens][n_embd] floats, tile-major, valid until the image is freed. */
BLUECL_API bluecl_status bluecl_image_embeddings(const bluecl_image* image, const float** embd,
                                                 size_t* n_tokens, size_t* n_embd);
/* The tile grid used (m columns, n rows; the image has m*n + 1 tiles with the thumbnail); 0:0 for an
 * image encoded from tiles. */
BLUECL_API bluecl_status bluecl_image_grid_of(const bluecl_image* image, int32_t* m, int32_t* n);
BLUECL_API void bluecl_image_free(bluecl_image* image);

/* Waits until the image is encoded; returns the status its encoding ended with. */
BLUECL_API bluecl_status bluecl_image_wait(const bluecl_image* image);
/* How tile batches go through the tower: 0 auto (pipelined when the blocks run off the CPU), 1 whole tower
 * per batch, 2 serial (patch embedding on the CPU, then the blocks, batch after batch), 3 pipelined (the
 * CPU's patch embedding of batch k+1 overlaps the device's blocks of batch k). Default 0. */
BLUECL_API bluecl_status bluecl_model_set_vision_pipeline(bluecl_model* model, int32_t mode);
/* The vision tower's placement plan for a batch of n_tiles (as bluecl_session_plan). */
BLUECL_API bluecl_status bluecl_model_vision_plan(bluecl_model* model, int32_t n_tiles, char* text,
                                                  size_t capacity, size_t* len);
/* Waits until every image started on the model is encoded (and the weights freed, where they are). */
BLUECL_API bluecl_status bluecl_model_wait_vision(bluecl_model* model);
/* Whether the vision tower's weights are freed whenever no image is left to encode (default 1). */
BLUECL_API bluecl_status bluecl_model_set_vision_release(bluecl_model* model, int32_t release);

/* Appends the image's tokens to the session (as bluecl_session_prefill_embeddings does). */
BLUECL_API bluecl_status bluecl_session_prefill_image(bluecl_session* session, const bluecl_image* image);

/* The vision tower's features before the downsampler and projector, for tests and comparisons:
 * [n_tiles][n_patches][n_embd] floats for normalised tiles as in bluecl_image_encode_tiles. *n_floats
 * receives the count needed; a smaller capacity writes nothing and returns BLUECL_ERR_INVALID_ARGUMENT. */
BLUECL_API bluecl_status bluecl_vision_features(bluecl_model* model, const float* tiles, int32_t n_tiles,
                                                float* out, size_t capacity, size_t* n_floats);

#ifdef __cplusplus
}
#endif

#endif /* BLUECL_BLUECL_H */
