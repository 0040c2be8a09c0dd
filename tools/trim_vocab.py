#!/usr/bin/env python3
"""Trims a byte-level BPE vocabulary GGUF (tokenizer.ggml.model = "gpt2", no tensors) to what tokenising
a set of test inputs can ever consult, so that tests can carry it.

Kept: every token that is not of type Normal (control, user-defined, unknown, byte, unused), every token
named by a *_token_id key, every Normal token whose text occurs in the inputs, and every merge whose
joined text occurs in the inputs (texts compared in GPT-2's byte-mapped form). Whatever a pre-tokenizer
makes of an input, its words are pieces of the input, so every symbol, merge and token lookup of the BPE
stays within what is kept: the trimmed file tokenises those inputs exactly as the full one does, up to
the numbering of the tokens. Kept tokens keep their order; `bluecl.test.token_ids` (i32 array) holds
each one's id in the full vocabulary, and the *_token_id keys are renumbered.

    tools/trim_vocab.py FULL.gguf INPUTS.inp OUT.gguf

INPUTS.inp is a llama.cpp test-vector file: strings separated by lines "__ggml_vocab_test__".
"""
import struct
import sys

SEP = "\n__ggml_vocab_test__\n"
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
SCALAR = {T_U8: "B", T_I8: "b", T_U16: "H", T_I16: "h", T_U32: "I", T_I32: "i", T_F32: "f", T_BOOL: "?",
          T_U64: "Q", T_I64: "q", T_F64: "d"}
NORMAL = 1


class Reader:
    def __init__(self, data):
        self.d, self.o = data, 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.d, self.o)
        self.o += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.d[self.o:self.o + n]
        self.o += n
        return s

    def value(self, t):
        if t == T_STR:
            return self.string()
        if t == T_ARR:
            et, n = self.take("I"), self.take("Q")
            return (et, [self.value(et) for _ in range(n)])
        return self.take(SCALAR[t])


def write_value(out, t, v):
    if t == T_STR:
        out += struct.pack("<Q", len(v)) + v
    elif t == T_ARR:
        et, items = v
        out += struct.pack("<IQ", et, len(items))
        for x in items:
            write_value(out, et, x)
    else:
        out += struct.pack("<" + SCALAR[t], v)


def byte_mapped(text: bytes) -> str:
    """GPT-2's bytes-to-printable-code-points mapping."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return "".join(table[b] for b in text)


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    src, inp, dst = argv[1:]
    r = Reader(open(src, "rb").read())
    if r.take("I") != 0x46554747:
        raise SystemExit(f"{src}: not a GGUF file")
    version, n_tensors, n_kv = r.take("I"), r.take("Q"), r.take("Q")
    if n_tensors:
        raise SystemExit(f"{src}: has tensors; only vocabulary-only files are trimmed")
    kv = []
    for _ in range(n_kv):
        key = r.string().decode()
        t = r.take("I")
        kv.append((key, t, r.value(t)))
    kvd = {k: (t, v) for k, t, v in kv}
    if kvd["tokenizer.ggml.model"][1] != b"gpt2":
        raise SystemExit(f"{src}: not a gpt2 vocabulary")

    # The inputs, byte-mapped, joined by a character that no mapped text holds.
    cases = open(inp, "rb").read().decode("utf-8").split(SEP)
    corpus = "\0".join(byte_mapped(c.encode("utf-8")) for c in cases)

    tokens = kvd["tokenizer.ggml.tokens"][1][1]
    types = kvd["tokenizer.ggml.token_type"][1][1] if "tokenizer.ggml.token_type" in kvd else [NORMAL] * len(tokens)
    named = {v for k, (t, v) in kvd.items() if k.endswith("_token_id") and t in (T_U32, T_I32)}
    keep = [i for i, tok in enumerate(tokens)
            if types[i] != NORMAL or i in named or tok.decode("utf-8", "replace") in corpus]
    new_id = {old: new for new, old in enumerate(keep)}
    merges = [m for m in kvd["tokenizer.ggml.merges"][1][1] if m.decode("utf-8").replace(" ", "", 1) in corpus]

    out_kv = []
    for key, t, v in kv:
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
            v = (v[0], [v[1][i] for i in keep])
        elif key == "tokenizer.ggml.merges":
            v = (v[0], merges)
        elif key.endswith("_token_id") and t in (T_U32, T_I32) and v in new_id:
            v = new_id[v]
        out_kv.append((key, t, v))
    out_kv.append(("bluecl.test.token_ids", T_ARR, (T_I32, keep)))

    out = bytearray(struct.pack("<IIQQ", 0x46554747, version, 0, len(out_kv)))
    for key, t, v in out_kv:
        write_value(out, T_STR, key.encode())
        out += struct.pack("<I", t)
        write_value(out, t, v)
    out += b"\0" * (-len(out) % 32)
    open(dst, "wb").write(out)
    print(f"{dst}: {len(keep)} of {len(tokens)} tokens, {len(merges)} of "
          f"{len(kvd['tokenizer.ggml.merges'][1][1])} merges, {len(out)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
