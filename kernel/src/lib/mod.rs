//! Runtime support the precompiled `core`/`alloc` expect from their host
//! (mirrors arch/x86/lib/memcpy_64.S and friends).
mod string;
