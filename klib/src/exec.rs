//! The initial user stack of a new program: strings, pointers and the ELF
//! auxiliary vector, laid out byte for byte as Linux x86_64 does.
//!
//! Mirrors Linux 4.19 `fs/exec.c` (`bprm_mm_init`'s starting point,
//! `copy_strings` and the size limit in `get_arg_page`) and
//! `create_elf_tables` in `fs/binfmt_elf.c`, with address space
//! randomization off (`arch_align_stack` only rounds down to 16). From the
//! top of the stack (`stack_top`, page aligned) downwards:
//!
//! ```text
//!   stack_top - 8 .. stack_top   8 zero bytes (bprm->p starts one pointer below the top)
//!   filename\0                   AT_EXECFN points here (copy_strings_kernel)
//!   envp[envc-1]\0 .. envp[0]\0  copy_strings copies the last string first,
//!   argv[argc-1]\0 .. argv[0]\0  so argv[0] is the lowest; mm->arg_start
//!   (padding to 16)              arch_align_stack
//!   platform\0                   "x86_64", AT_PLATFORM (STACK_ALLOC, unaligned)
//!   16 random bytes              AT_RANDOM, right below the platform string
//!   (padding)                    so that sp ends up 16-byte aligned (STACK_ROUND)
//!   auxv pairs, AT_NULL last
//!   NULL, envp pointers
//!   NULL, argv pointers
//!   argc                         <- sp
//! ```
//!
//! The auxiliary vector is written in `create_elf_tables`' order:
//! `AT_SYSINFO_EHDR` (x86_64's `ARCH_DLINFO`), `AT_HWCAP`, `AT_PAGESZ`,
//! `AT_CLKTCK`, `AT_PHDR`, `AT_PHENT`, `AT_PHNUM`, `AT_BASE`, `AT_FLAGS`,
//! `AT_ENTRY`, `AT_UID`, `AT_EUID`, `AT_GID`, `AT_EGID`, `AT_SECURE`,
//! `AT_RANDOM`, `AT_HWCAP2`, `AT_EXECFN`, `AT_PLATFORM`, `AT_NULL`. The
//! caller passes the entries it knows (in any order, each at most once);
//! [`build_stack`] adds `AT_RANDOM`, `AT_EXECFN` and `AT_PLATFORM` with the
//! addresses it chose. Entry types outside that list go after
//! `AT_PLATFORM`, where Linux puts `AT_BASE_PLATFORM` and `AT_EXECFD`.
//!
//! # Left out
//!
//! Stack randomization (`arch_align_stack`'s random offset and
//! `randomize_stack_top`), `RLIMIT_STACK` other than the default 8 MiB, and
//! the copying itself: the result is a byte image for the caller to copy
//! to `[sp, stack_top)` of the new address space.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

pub const AT_NULL: u64 = 0;
pub const AT_IGNORE: u64 = 1;
pub const AT_EXECFD: u64 = 2;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_NOTELF: u64 = 10;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_BASE_PLATFORM: u64 = 24;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_EXECFN: u64 = 31;
pub const AT_SYSINFO_EHDR: u64 = 33;

/// `ELF_PLATFORM` on x86_64 (`utsname()->machine`).
pub const PLATFORM_X86_64: &[u8] = b"x86_64";

pub const PAGE_SIZE: u64 = 4096;
/// `MAX_ARG_STRLEN`: the longest single argument or environment string,
/// including its NUL.
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE as usize;
/// `MAX_ARG_STRINGS`: the most argv or envp entries.
pub const MAX_ARG_STRINGS: usize = 0x7fff_ffff;
/// `ARG_MAX`: argument space always allowed, whatever the stack limit.
pub const ARG_MAX: u64 = 32 * PAGE_SIZE;
/// `_STK_LIM`, the default `RLIMIT_STACK` (8 MiB).
pub const STK_LIM: u64 = 8 << 20;
/// The limit `get_arg_page` enforces on strings + pointers once they are
/// larger than [`ARG_MAX`]: min(3/4 of `_STK_LIM`, 1/4 of the stack rlimit),
/// i.e. 2 MiB with the default 8 MiB stack.
pub const ARG_LIMIT: u64 = if STK_LIM / 4 * 3 < STK_LIM / 4 {
    STK_LIM / 4 * 3
} else {
    STK_LIM / 4
};
/// `AT_VECTOR_SIZE` of 4.19 x86_64, in words: room for
/// `AT_VECTOR_SIZE_BASE` (20) + `AT_VECTOR_SIZE_ARCH` (1) entries and
/// AT_NULL, two words each. The size of `mm->saved_auxv`.
pub const AT_VECTOR_SIZE: usize = 2 * (20 + 1 + 1);

/// The order `create_elf_tables` emits the entries it knows.
const LINUX_ORDER: [u64; 19] = [
    AT_SYSINFO_EHDR,
    AT_HWCAP,
    AT_PAGESZ,
    AT_CLKTCK,
    AT_PHDR,
    AT_PHENT,
    AT_PHNUM,
    AT_BASE,
    AT_FLAGS,
    AT_ENTRY,
    AT_UID,
    AT_EUID,
    AT_GID,
    AT_EGID,
    AT_SECURE,
    AT_RANDOM,
    AT_HWCAP2,
    AT_EXECFN,
    AT_PLATFORM,
];

/// The new stack, ready to be copied to `[sp, stack_top)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackImage {
    /// The bytes of `[sp, stack_top)`.
    pub bytes: Vec<u8>,
    /// The initial `rsp`: it points at argc and is 16-byte aligned.
    pub sp: u64,
    /// The auxiliary vector as written, AT_NULL included (`mm->saved_auxv`,
    /// for `/proc/PID/auxv` and `prctl(PR_GET_AUXV)`).
    pub auxv: Vec<(u64, u64)>,
    /// `mm->arg_start`/`arg_end`: the argv strings (`/proc/PID/cmdline`).
    pub arg_start: u64,
    pub arg_end: u64,
    /// `mm->env_start`/`env_end`: the envp strings (`/proc/PID/environ`).
    pub env_start: u64,
    pub env_end: u64,
    /// Where the filename string is (AT_EXECFN).
    pub execfn: u64,
    /// Where the 16 random bytes are (AT_RANDOM).
    pub random: u64,
    /// Where the platform string is (AT_PLATFORM), if one was given.
    pub platform: Option<u64>,
}

/// Why the stack could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecError {
    /// `E2BIG`: a string longer than [`MAX_ARG_STRLEN`], more than
    /// [`MAX_ARG_STRINGS`] of them, or strings and pointers together
    /// larger than [`ARG_LIMIT`].
    TooBig,
    /// `EINVAL`: the caller passed an auxv entry that is not its to pass
    /// (AT_NULL, AT_RANDOM, AT_EXECFN, AT_PLATFORM), one twice, or more than
    /// fit in [`AT_VECTOR_SIZE`]. A kernel bug, not a user error.
    BadAuxv(u64),
    /// `EFAULT`: `stack_top` is not page aligned or too low for the image.
    BadStackTop,
}

impl ExecError {
    /// The (positive) errno value execve returns.
    pub fn errno(&self) -> i32 {
        match self {
            ExecError::TooBig => 7,       // E2BIG
            ExecError::BadAuxv(_) => 22,  // EINVAL
            ExecError::BadStackTop => 14, // EFAULT
        }
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::TooBig => f.write_str("argument list too long"),
            ExecError::BadAuxv(t) => write!(f, "bad auxv entry type {t}"),
            ExecError::BadStackTop => f.write_str("bad stack top"),
        }
    }
}

/// A string as the kernel copies it: up to its first NUL (`strnlen_user`),
/// so a trailing NUL in the slice is harmless.
fn c_str(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// Puts the caller's auxv entries and build_stack's own in Linux's order.
fn order_auxv(
    given: &[(u64, u64)],
    random: u64,
    execfn: u64,
    platform: Option<u64>,
) -> Result<Vec<(u64, u64)>, ExecError> {
    let ours = [AT_NULL, AT_RANDOM, AT_EXECFN, AT_PLATFORM];
    for (i, &(t, _)) in given.iter().enumerate() {
        if ours.contains(&t) || given[..i].iter().any(|&(u, _)| u == t) {
            return Err(ExecError::BadAuxv(t));
        }
    }
    let mut out = Vec::with_capacity(given.len() + 4);
    for &t in &LINUX_ORDER {
        match t {
            AT_RANDOM => out.push((AT_RANDOM, random)),
            AT_EXECFN => out.push((AT_EXECFN, execfn)),
            AT_PLATFORM => {
                if let Some(p) = platform {
                    out.push((AT_PLATFORM, p));
                }
            }
            _ => out.extend(given.iter().filter(|&&(u, _)| u == t)),
        }
    }
    out.extend(given.iter().filter(|(u, _)| !LINUX_ORDER.contains(u)));
    out.push((AT_NULL, 0));
    if out.len() * 2 > AT_VECTOR_SIZE {
        return Err(ExecError::BadAuxv(out[out.len() - 2].0));
    }
    Ok(out)
}

/// Builds the initial stack of a program.
///
/// `stack_top` is the (page-aligned) end of the stack; `filename` is the
/// path exec was called with (AT_EXECFN); `argv`/`envp` are the strings
/// (each taken up to its first NUL, if any); `auxv` the entries the caller
/// knows (see the module doc); `random` the AT_RANDOM bytes; `platform` the
/// AT_PLATFORM string ([`PLATFORM_X86_64`]), or empty for none.
pub fn build_stack(
    stack_top: u64,
    filename: &[u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
    auxv: &[(u64, u64)],
    random: [u8; 16],
    platform: &[u8],
) -> Result<StackImage, ExecError> {
    if !stack_top.is_multiple_of(PAGE_SIZE) || stack_top < PAGE_SIZE {
        return Err(ExecError::BadStackTop);
    }
    // do_execveat_common: count(argv) and count(envp).
    if argv.len() > MAX_ARG_STRINGS || envp.len() > MAX_ARG_STRINGS {
        return Err(ExecError::TooBig);
    }
    let (argc, envc) = (argv.len() as u64, envp.len() as u64);

    // bprm_mm_init: bprm->p = vm_end - sizeof(void *). Then copy_strings:
    // filename, the environment, the arguments, each last string first.
    let mut p = stack_top - 8;
    let mut place = |s: &[u8]| -> Result<u64, ExecError> {
        let len = s.len() + 1;
        if len > MAX_ARG_STRLEN {
            return Err(ExecError::TooBig); // valid_arg_len
        }
        p = p.checked_sub(len as u64).ok_or(ExecError::BadStackTop)?;
        Ok(p)
    };
    let filename = c_str(filename);
    let execfn = place(filename)?;
    let mut env_addr = vec![0u64; envp.len()];
    for (i, s) in envp.iter().enumerate().rev() {
        env_addr[i] = place(c_str(s))?;
    }
    let mut arg_addr = vec![0u64; argv.len()];
    for (i, s) in argv.iter().enumerate().rev() {
        arg_addr[i] = place(c_str(s))?;
    }
    let strings_bottom = p;

    // get_arg_page: the stack VMA so far (whole pages) plus the pointers
    // that will point at the strings.
    let vma = stack_top - (strings_bottom & !(PAGE_SIZE - 1));
    let size = vma.saturating_add((argc + envc).saturating_mul(8));
    // "We've historically supported up to 32 pages (ARG_MAX) of argument
    // strings even with small stacks"; beyond that, ARG_LIMIT.
    if size > ARG_MAX.max(ARG_LIMIT) {
        return Err(ExecError::TooBig);
    }

    // create_elf_tables.
    let mut p = strings_bottom & !15; // arch_align_stack
    let u_platform = if platform.is_empty() {
        None
    } else {
        let s = c_str(platform);
        p = p
            .checked_sub(s.len() as u64 + 1)
            .ok_or(ExecError::BadStackTop)?;
        Some(p)
    };
    p = p.checked_sub(16).ok_or(ExecError::BadStackTop)?;
    let u_rand = p;

    let auxv = order_auxv(auxv, u_rand, execfn, u_platform)?;
    let ei_words = auxv.len() as u64 * 2;
    let items = (argc + 1) + (envc + 1) + 1;
    let sp = p
        .checked_sub((ei_words + items) * 8) // STACK_ADD, then STACK_ROUND
        .ok_or(ExecError::BadStackTop)?
        & !15;

    let mut bytes = vec![0u8; (stack_top - sp) as usize];
    let mut put = |addr: u64, data: &[u8]| {
        let o = (addr - sp) as usize;
        bytes[o..o + data.len()].copy_from_slice(data);
    };
    let mut words = Vec::with_capacity((items + ei_words) as usize);
    words.push(argc);
    words.extend_from_slice(&arg_addr);
    words.push(0);
    words.extend_from_slice(&env_addr);
    words.push(0);
    for &(t, v) in &auxv {
        words.push(t);
        words.push(v);
    }
    for (i, w) in words.iter().enumerate() {
        put(sp + 8 * i as u64, &w.to_le_bytes());
    }
    put(u_rand, &random);
    if let Some(a) = u_platform {
        put(a, c_str(platform)); // the NUL is already there
    }
    put(execfn, filename);
    for (s, &a) in envp.iter().zip(&env_addr) {
        put(a, c_str(s));
    }
    for (s, &a) in argv.iter().zip(&arg_addr) {
        put(a, c_str(s));
    }

    Ok(StackImage {
        bytes,
        sp,
        auxv,
        arg_start: strings_bottom,
        arg_end: env_addr.first().copied().unwrap_or(execfn),
        env_start: env_addr.first().copied().unwrap_or(execfn),
        env_end: execfn,
        execfn,
        random: u_rand,
        platform: u_platform,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u64 = 0x7fff_ffff_f000;
    const RND: [u8; 16] = *b"0123456789abcdef";

    /// The auxv entries load_elf_binary knows, deliberately out of order.
    fn caller_auxv() -> Vec<(u64, u64)> {
        vec![
            (AT_PHDR, 0x400040),
            (AT_PHENT, 56),
            (AT_PHNUM, 7),
            (AT_PAGESZ, 4096),
            (AT_BASE, 0),
            (AT_FLAGS, 0),
            (AT_ENTRY, 0x401000),
            (AT_UID, 0),
            (AT_EUID, 0),
            (AT_GID, 0),
            (AT_EGID, 0),
            (AT_SECURE, 0),
            (AT_HWCAP, 0x178bfbff),
            (AT_CLKTCK, 100),
        ]
    }

    /// argv, envp and auxv as a program's _start sees them.
    type Decoded = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(u64, u64)>);

    /// Reads the image back the way a C runtime does.
    struct Reader<'a>(&'a StackImage, u64);

    impl Reader<'_> {
        fn word(&self, addr: u64) -> u64 {
            let o = (addr - self.0.sp) as usize;
            u64::from_le_bytes(self.0.bytes[o..o + 8].try_into().unwrap())
        }
        fn cstr(&self, addr: u64) -> &[u8] {
            assert!(
                addr >= self.0.sp && addr < self.1,
                "{addr:#x} outside the stack"
            );
            let o = (addr - self.0.sp) as usize;
            let rest = &self.0.bytes[o..];
            &rest[..rest.iter().position(|&b| b == 0).expect("NUL")]
        }
        /// (argv, envp, auxv) as a program's _start sees them.
        fn decode(&self) -> Decoded {
            let sp = self.0.sp;
            let argc = self.word(sp);
            let mut a = sp + 8;
            let argv: Vec<Vec<u8>> = (0..argc)
                .map(|i| self.cstr(self.word(a + 8 * i)).to_vec())
                .collect();
            a += 8 * argc;
            assert_eq!(self.word(a), 0, "argv NULL");
            a += 8;
            let mut envp = Vec::new();
            while self.word(a) != 0 {
                envp.push(self.cstr(self.word(a)).to_vec());
                a += 8;
            }
            a += 8;
            let mut auxv = Vec::new();
            loop {
                let (t, v) = (self.word(a), self.word(a + 8));
                auxv.push((t, v));
                a += 16;
                if t == AT_NULL {
                    break;
                }
            }
            (argv, envp, auxv)
        }
    }

    fn get(auxv: &[(u64, u64)], t: u64) -> Option<u64> {
        auxv.iter().find(|&&(u, _)| u == t).map(|&(_, v)| v)
    }

    #[test]
    fn exact_layout_of_a_small_exec() {
        let argv: [&[u8]; 1] = [b"/init"];
        let envp: [&[u8]; 2] = [b"HOME=/", b"TERM=linux"];
        let st = build_stack(
            TOP,
            b"/init",
            &argv,
            &envp,
            &caller_auxv(),
            RND,
            PLATFORM_X86_64,
        )
        .unwrap();
        // Worked out by hand from copy_strings and create_elf_tables:
        // filename at top-8-6, "TERM=linux" 11 below, "HOME=/" 7 below,
        // "/init" 6 below; rounded to ...efd0; "x86_64\0" at ...efc9; the
        // random bytes at ...efb9; 18 auxv pairs (288 bytes) and 6 words
        // below that, rounded down to 16.
        assert_eq!(st.execfn, 0x7fff_ffff_eff2);
        assert_eq!(st.env_start, 0x7fff_ffff_efe0);
        assert_eq!(st.arg_start, 0x7fff_ffff_efda);
        assert_eq!(
            (st.arg_end, st.env_end),
            (0x7fff_ffff_efe0, 0x7fff_ffff_eff2)
        );
        assert_eq!(st.platform, Some(0x7fff_ffff_efc9));
        assert_eq!(st.random, 0x7fff_ffff_efb9);
        assert_eq!(st.sp, 0x7fff_ffff_ee60);
        assert_eq!(st.bytes.len() as u64, TOP - st.sp);
        let r = Reader(&st, TOP);
        assert_eq!(r.word(st.sp), 1);
        assert_eq!(r.word(st.sp + 8), 0x7fff_ffff_efda);
        assert_eq!(r.word(st.sp + 16), 0);
        assert_eq!(r.word(st.sp + 24), 0x7fff_ffff_efe0);
        assert_eq!(r.word(st.sp + 32), 0x7fff_ffff_efe7);
        assert_eq!(r.word(st.sp + 40), 0);
        assert_eq!(r.word(st.sp + 48), AT_HWCAP); // first auxv entry
                                                  // The end marker, and the zero padding between auxv and AT_RANDOM.
        assert_eq!(&st.bytes[st.bytes.len() - 8..], &[0; 8]);
        let auxv_end = (st.sp + 48 + 18 * 16 - st.sp) as usize;
        assert_eq!(&st.bytes[auxv_end..(st.random - st.sp) as usize], &[0; 9]);
        assert_eq!(
            &st.bytes[(st.random - st.sp) as usize..][..16 + 7],
            b"0123456789abcdefx86_64\0"
        );
    }

    #[test]
    fn reads_back_as_a_c_runtime_sees_it() {
        let argv: [&[u8]; 3] = [b"/bin/sh", b"-c", b"echo hi"];
        let envp: [&[u8]; 2] = [b"PATH=/bin", b"X="];
        let mut given = caller_auxv();
        given.push((AT_SYSINFO_EHDR, 0x7fff_f7ffd000));
        given.push((AT_HWCAP2, 2));
        let st = build_stack(TOP, b"/bin/sh", &argv, &envp, &given, RND, PLATFORM_X86_64).unwrap();
        assert_eq!(st.sp % 16, 0);
        let r = Reader(&st, TOP);
        let (a, e, aux) = r.decode();
        assert_eq!(a, [&b"/bin/sh"[..], b"-c", b"echo hi"]);
        assert_eq!(e, [&b"PATH=/bin"[..], b"X="]);
        assert_eq!(aux, st.auxv);
        let types: Vec<u64> = aux.iter().map(|&(t, _)| t).collect();
        assert_eq!(
            types,
            [
                AT_SYSINFO_EHDR,
                AT_HWCAP,
                AT_PAGESZ,
                AT_CLKTCK,
                AT_PHDR,
                AT_PHENT,
                AT_PHNUM,
                AT_BASE,
                AT_FLAGS,
                AT_ENTRY,
                AT_UID,
                AT_EUID,
                AT_GID,
                AT_EGID,
                AT_SECURE,
                AT_RANDOM,
                AT_HWCAP2,
                AT_EXECFN,
                AT_PLATFORM,
                AT_NULL
            ]
        );
        for (t, v) in caller_auxv() {
            assert_eq!(get(&aux, t), Some(v), "type {t}");
        }
        assert_eq!(get(&aux, AT_HWCAP2), Some(2));
        // AT_RANDOM, AT_PLATFORM and AT_EXECFN point at what they should.
        let rnd = get(&aux, AT_RANDOM).unwrap();
        let o = (rnd - st.sp) as usize;
        assert_eq!(st.bytes[o..o + 16], RND);
        assert_eq!(r.cstr(get(&aux, AT_PLATFORM).unwrap()), b"x86_64");
        assert_eq!(r.cstr(get(&aux, AT_EXECFN).unwrap()), b"/bin/sh");
        // The random bytes sit right below the platform string, which ends
        // on a 16-byte boundary.
        assert_eq!(rnd + 16, st.platform.unwrap());
        assert_eq!((st.platform.unwrap() + 7) % 16, 0);
        // Strings are contiguous: argv[0] lowest, then envp, then filename,
        // then the 8-byte end marker at the top.
        let mut addr = st.arg_start;
        for s in a.iter().chain(&e) {
            assert_eq!(r.cstr(addr), &s[..]);
            addr += s.len() as u64 + 1;
        }
        assert_eq!(addr, st.execfn);
        assert_eq!(st.execfn + 8, TOP - 8);
        assert_eq!(st.arg_end, st.env_start);
        assert_eq!(r.cstr(st.env_start), b"PATH=/bin");
    }

    #[test]
    fn empty_argv_envp_and_no_platform() {
        let st = build_stack(TOP, b"/init", &[], &[], &[], RND, b"").unwrap();
        let r = Reader(&st, TOP);
        let (a, e, aux) = r.decode();
        assert!(a.is_empty() && e.is_empty());
        assert_eq!(
            aux,
            [(AT_RANDOM, st.random), (AT_EXECFN, st.execfn), (AT_NULL, 0)]
        );
        assert_eq!(st.platform, None);
        assert_eq!(st.sp % 16, 0);
        // Random bytes right below the 16-aligned string area.
        assert_eq!(st.random, ((TOP - 8 - 6) & !15) - 16);
        assert_eq!(
            (st.arg_start, st.arg_end, st.env_start),
            (st.execfn, st.execfn, st.execfn)
        );
        // An empty string is one NUL; a trailing NUL in the input is not doubled.
        let argv: [&[u8]; 2] = [b"", b"x\0"];
        let st = build_stack(TOP, b"/init\0", &argv, &[], &[], RND, b"x86_64\0").unwrap();
        let (a, _, _) = Reader(&st, TOP).decode();
        assert_eq!(a, [&b""[..], b"x"]);
        assert_eq!(st.execfn, TOP - 8 - 6);
        assert_eq!(st.arg_start, st.execfn - 3);
    }

    #[test]
    fn alignment_for_every_string_length() {
        for n in 0..40 {
            let s = vec![b'a'; n];
            let argv: Vec<&[u8]> = (0..n % 5).map(|_| &s[..]).collect();
            let envp: Vec<&[u8]> = (0..n % 3).map(|_| &s[..]).collect();
            let st =
                build_stack(TOP, &s, &argv, &envp, &caller_auxv(), RND, PLATFORM_X86_64).unwrap();
            assert_eq!(st.sp % 16, 0, "n = {n}");
            let (a, e, _) = Reader(&st, TOP).decode();
            assert_eq!((a.len(), e.len()), (argv.len(), envp.len()));
            // argc, argv, envp, auxv are contiguous, the gap is < 16 bytes.
            let auxv_end = st.sp
                + 8 * (1 + argv.len() + 1 + envp.len() + 1) as u64
                + 16 * st.auxv.len() as u64;
            assert!(
                st.random >= auxv_end && st.random - auxv_end < 16,
                "n = {n}"
            );
        }
    }

    #[test]
    fn e2big() {
        let huge = vec![b'x'; MAX_ARG_STRLEN - 1]; // with its NUL: exactly the limit
        let argv: [&[u8]; 1] = [&huge];
        assert!(build_stack(TOP, b"/a", &argv, &[], &[], RND, b"").is_ok());
        let over = vec![b'x'; MAX_ARG_STRLEN];
        let argv: [&[u8]; 1] = [&over];
        assert_eq!(
            build_stack(TOP, b"/a", &argv, &[], &[], RND, b""),
            Err(ExecError::TooBig)
        );
        let envp: [&[u8]; 1] = [&over];
        assert_eq!(
            build_stack(TOP, b"/a", &[], &envp, &[], RND, b""),
            Err(ExecError::TooBig)
        );
        assert_eq!(
            build_stack(TOP, &over, &[], &[], &[], RND, b""),
            Err(ExecError::TooBig)
        );
        // 15 strings of 128 KiB fit in 2 MiB, 16 do not (the first page and
        // the pointers push it over).
        let many: Vec<&[u8]> = (0..15).map(|_| &huge[..]).collect();
        let st = build_stack(TOP, b"/a", &many, &[], &[], RND, b"").unwrap();
        assert_eq!(Reader(&st, TOP).decode().0.len(), 15);
        let many: Vec<&[u8]> = (0..16).map(|_| &huge[..]).collect();
        assert_eq!(
            build_stack(TOP, b"/a", &many, &[], &[], RND, b""),
            Err(ExecError::TooBig)
        );
        // Pointers count too: 262144 empty arguments take 256 KiB of
        // strings but 2 MiB of pointers.
        let empty: Vec<&[u8]> = vec![b""; 262_144];
        assert_eq!(
            build_stack(TOP, b"/a", &empty, &[], &[], RND, b""),
            Err(ExecError::TooBig)
        );
        let fewer: Vec<&[u8]> = vec![b""; 200_000];
        assert!(build_stack(TOP, b"/a", &fewer, &[], &[], RND, b"").is_ok());
        assert_eq!(ExecError::TooBig.errno(), 7);
    }

    #[test]
    fn bad_auxv_and_stack_top() {
        for t in [AT_NULL, AT_RANDOM, AT_EXECFN, AT_PLATFORM] {
            assert_eq!(
                build_stack(TOP, b"/a", &[], &[], &[(t, 1)], RND, b""),
                Err(ExecError::BadAuxv(t))
            );
        }
        assert_eq!(
            build_stack(
                TOP,
                b"/a",
                &[],
                &[],
                &[(AT_PAGESZ, 4096), (AT_PAGESZ, 4096)],
                RND,
                b""
            ),
            Err(ExecError::BadAuxv(AT_PAGESZ))
        );
        // Unknown types go after AT_PLATFORM, in the caller's order.
        let st = build_stack(
            TOP,
            b"/a",
            &[],
            &[],
            &[(51, 2048), (AT_PAGESZ, 4096), (40, 1)],
            RND,
            PLATFORM_X86_64,
        )
        .unwrap();
        let types: Vec<u64> = st.auxv.iter().map(|&(t, _)| t).collect();
        assert_eq!(
            types,
            [
                AT_PAGESZ,
                AT_RANDOM,
                AT_EXECFN,
                AT_PLATFORM,
                51,
                40,
                AT_NULL
            ]
        );
        // More than AT_VECTOR_SIZE.
        let lots: Vec<(u64, u64)> = (100..120).map(|t| (t, 0)).collect();
        assert!(matches!(
            build_stack(TOP, b"/a", &[], &[], &lots, RND, b""),
            Err(ExecError::BadAuxv(_))
        ));
        assert_eq!(
            build_stack(TOP + 8, b"/a", &[], &[], &[], RND, b""),
            Err(ExecError::BadStackTop)
        );
        assert_eq!(
            build_stack(0, b"/a", &[], &[], &[], RND, b""),
            Err(ExecError::BadStackTop)
        );
        let long = vec![b'x'; 5000];
        let argv: [&[u8]; 1] = [&long];
        assert_eq!(
            build_stack(0x1000, b"/a", &argv, &[], &[], RND, b""),
            Err(ExecError::BadStackTop)
        );
        // A low but sufficient top works.
        let st = build_stack(0x1000, b"/a", &[], &[], &caller_auxv(), RND, b"").unwrap();
        assert!(st.sp > 0xe00 && st.sp.is_multiple_of(16));
        let st = build_stack(0x2000, b"/a", &argv, &[], &caller_auxv(), RND, b"").unwrap();
        assert_eq!(Reader(&st, 0x2000).decode().0[0].len(), 5000);
        assert_eq!(ExecError::BadAuxv(3).errno(), 22);
        assert_eq!(ExecError::BadStackTop.errno(), 14);
    }
}
