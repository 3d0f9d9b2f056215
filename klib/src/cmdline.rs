//! The kernel command line.
//!
//! Mirrors Linux `lib/cmdline.c` (`next_arg`), `kernel/params.c`
//! (`parse_args`, `parameq`, `kstrto*` number rules) and the parameter
//! handling of `init/main.c` (`unknown_bootoption`, `set_init_arg`).
//!
//! Left out: module parameters (`module.param=`), the `__setup`/`early_param`
//! registration tables (Tine knows its handful of parameters statically, see
//! [`BootParams`]), the `MAX_INIT_ARGS`/`MAX_INIT_ENVS` limits that make Linux
//! panic later (the kernel can check `init_argv.len()` itself), the LILO hack
//! where `init=` forgets the arguments seen before it, and the default
//! `HOME=/` and `TERM=linux` environment (the kernel adds those).
//!
//! Linux parses the line in place, writing NULs over `=` and quotes.  Here
//! the line is borrowed and every result is a sub-slice of it, so nothing is
//! copied and the same code runs before the heap exists.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Linux's `isspace()` on the command line: ASCII only, and unlike
/// `u8::is_ascii_whitespace` it includes vertical tab.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn skip_spaces(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_space(c as u8))
}

/// `s[a..b]`, or `""` if that is not a valid range.  All the cut points used
/// here sit next to ASCII bytes, so the fallback is never taken; it only
/// keeps the parser free of panicking paths.
fn sub(s: &str, a: usize, b: usize) -> &str {
    s.get(a..b).unwrap_or("")
}

/// One argument as cut out by `next_arg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Arg<'a> {
    /// Name, quotes removed.
    param: &'a str,
    /// Value after the first `=`, quotes removed.
    val: Option<&'a str>,
    /// The token exactly as written, quotes included.
    raw: &'a str,
    /// `param=val` as one slice, with quotes around the whole argument
    /// removed.  This is what Linux hands to init after `repair_env_string`,
    /// except for `foo="a b"`, which stays as written because the unquoted
    /// form does not exist as one slice of the line.
    joined: &'a str,
}

/// Linux `next_arg`: cut the first argument off `args`, which must be
/// non-empty and start with a non-space.  Returns the argument and the rest
/// of the line with leading spaces skipped.
fn next_arg(args: &str) -> (Arg<'_>, &str) {
    let b = args.as_bytes();
    let quoted = b.first() == Some(&b'"');
    let start = usize::from(quoted);

    let mut in_quote = quoted;
    let mut equals = None;
    let mut end = start;
    while let Some(&c) = b.get(end) {
        if is_space(c) && !in_quote {
            break;
        }
        // Linux stores the position in an int where 0 means "none yet", so
        // an `=` in the very first position never splits the argument.
        if equals.is_none() && c == b'=' && end > start {
            equals = Some(end);
        }
        if c == b'"' {
            in_quote = !in_quote;
        }
        end += 1;
    }

    let ends_in_quote = end > start && b.get(end - 1) == Some(&b'"');
    // A quote opened before the name is closed by the last character.
    let trimmed_end = if quoted && ends_in_quote {
        end - 1
    } else {
        end
    };

    let (param, val, joined) = match equals {
        None => {
            let p = sub(args, start, trimmed_end);
            (p, None, p)
        }
        Some(eq) => {
            let mut vstart = eq + 1;
            let mut vend = trimmed_end;
            if b.get(vstart) == Some(&b'"') {
                vstart += 1;
                if ends_in_quote {
                    vend = end - 1;
                }
            }
            // `foo="` : the opening quote is also the last character.
            let vend = vend.max(vstart);
            (
                sub(args, start, eq),
                Some(sub(args, vstart, vend)),
                sub(args, start, trimmed_end),
            )
        }
    };

    let arg = Arg {
        param,
        val,
        raw: sub(args, 0, end),
        joined,
    };
    (arg, skip_spaces(sub(args, end, args.len())))
}

/// Iterator over the `(param, value)` pairs of a command line, see
/// [`params`].
#[derive(Clone, Debug)]
pub struct Params<'a> {
    rest: &'a str,
    done: bool,
    after_dashdash: Option<&'a str>,
}

/// Split a kernel command line into `(param, value)` pairs the way Linux's
/// `parse_args` does.
///
/// Arguments are separated by whitespace.  `param=value` splits at the first
/// `=`; a token without one has no value.  Double quotes let a value contain
/// spaces and are removed: `foo="a b"` and `"foo=a b"` both give
/// `("foo", Some("a b"))`.  Iteration stops at a bare `--`, because what
/// follows belongs to init (see [`init_args_after_dashdash`]).
pub fn params(s: &str) -> Params<'_> {
    Params {
        rest: s,
        done: false,
        after_dashdash: None,
    }
}

impl<'a> Params<'a> {
    fn next_arg(&mut self) -> Option<Arg<'a>> {
        if self.done {
            return None;
        }
        self.rest = skip_spaces(self.rest);
        if self.rest.is_empty() {
            self.done = true;
            return None;
        }
        let (arg, rest) = next_arg(self.rest);
        self.rest = rest;
        if arg.val.is_none() && arg.param == "--" {
            self.done = true;
            self.after_dashdash = Some(rest);
            return None;
        }
        Some(arg)
    }

    /// Once iteration has stopped at `--`, the text after it (leading spaces
    /// skipped).  `None` while iterating or if there was no `--`.
    pub fn after_dashdash(&self) -> Option<&'a str> {
        self.after_dashdash
    }
}

impl<'a> Iterator for Params<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        self.next_arg().map(|a| (a.param, a.val))
    }
}

/// The text after a bare `--` argument, trimmed, if there is one.
///
/// `--` is found with the same tokenizer as [`params`], so a `--` inside
/// quotes does not count.  A trailing `--` gives `Some("")`.
pub fn init_args_after_dashdash(s: &str) -> Option<&str> {
    let mut it = params(s);
    while it.next_arg().is_some() {}
    it.after_dashdash()
        .map(|rest| rest.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8)))
}

/// Linux `parameq`: parameter names compare equal if they differ only in
/// `-` versus `_`, so `ignore-loglevel` is `ignore_loglevel`.
pub fn parameq(a: &str, b: &str) -> bool {
    fn dash2underscore(c: u8) -> u8 {
        if c == b'-' {
            b'_'
        } else {
            c
        }
    }
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| dash2underscore(x) == dash2underscore(y))
}

// ---------------------------------------------------------------------------
// Numbers, as Linux `kstrtoull`/`kstrtoll` with base 0.

/// Unsigned number in C notation: `0x1f` is hex, `017` is octal (as in
/// Linux's base-0 parsing), anything else decimal.  An optional `+` is
/// allowed; trailing garbage, an empty string or overflow is an error.
pub fn parse_u64(s: &str) -> Option<u64> {
    parse_magnitude(s.strip_prefix('+').unwrap_or(s))
}

/// Signed version of [`parse_u64`]: a leading `-` negates, and the result
/// must fit in an `i64`.
pub fn parse_i64(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        // Like Linux, no `+` after the `-`.
        Some(digits) => {
            let magnitude = parse_magnitude(digits)?;
            0i64.checked_sub_unsigned(magnitude)
        }
        None => i64::try_from(parse_u64(s)?).ok(),
    }
}

fn parse_magnitude(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let (radix, digits) = match b {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, &b[2..]),
        [b'0', ..] => (8, b),
        _ => (10, b),
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |acc, &c| {
        let d = char::from(c).to_digit(radix)?;
        acc.checked_mul(u64::from(radix))?.checked_add(u64::from(d))
    })
}

fn parse_u32(s: &str) -> Option<u32> {
    u32::try_from(parse_u64(s)?).ok()
}

fn parse_u8(s: &str) -> Option<u8> {
    u8::try_from(parse_u64(s)?).ok()
}

// ---------------------------------------------------------------------------
// The parameters Tine knows.

/// Timer frequencies the kernel can be asked for with `tine.hz=`: the
/// choices of Linux's `CONFIG_HZ`.
pub const ALLOWED_HZ: [u32; 4] = [100, 250, 300, 1000];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Console,
    Init,
    RdInit,
    Root,
    MaxCpus,
    NrCpus,
    NoSmp,
    Panic,
    LogLevel,
    Quiet,
    Debug,
    IgnoreLogLevel,
    TraceEvent,
    FtraceDumpOnOops,
    TineHz,
    TineKtest,
    TineFailCpuBoot,
    /// Accepted so that it is not reported as unknown, but Tine has no use
    /// for it (bootloaders and distributions add these).
    Ignored,
}

const KNOWN: &[(&str, Known)] = &[
    ("console", Known::Console),
    ("init", Known::Init),
    ("rdinit", Known::RdInit),
    ("root", Known::Root),
    ("maxcpus", Known::MaxCpus),
    ("nr_cpus", Known::NrCpus),
    ("nosmp", Known::NoSmp),
    ("panic", Known::Panic),
    ("loglevel", Known::LogLevel),
    ("quiet", Known::Quiet),
    ("debug", Known::Debug),
    ("ignore_loglevel", Known::IgnoreLogLevel),
    ("trace_event", Known::TraceEvent),
    ("ftrace_dump_on_oops", Known::FtraceDumpOnOops),
    ("tine.hz", Known::TineHz),
    ("tine.ktest", Known::TineKtest),
    ("tine.fail_cpu_boot", Known::TineFailCpuBoot),
    ("ro", Known::Ignored),
    ("rw", Known::Ignored),
    ("earlyprintk", Known::Ignored),
    ("rootfstype", Known::Ignored),
    ("BOOT_IMAGE", Known::Ignored),
];

fn known(param: &str) -> Option<Known> {
    KNOWN
        .iter()
        .find(|(name, _)| parameq(name, param))
        .map(|&(_, k)| k)
}

/// Value of a parameter that needs one; `console` and `console=` both lack
/// it.
fn nonempty(val: Option<&str>) -> Option<&str> {
    val.filter(|v| !v.is_empty())
}

/// What the kernel takes from its command line.
///
/// Each field keeps its default unless the line sets it; when a parameter
/// appears more than once the last valid value wins.  A bad value is never
/// fatal: it is described in `warnings` and leaves the field unchanged,
/// because a typo on the command line should not stop the machine booting.
///
/// Flags (`quiet`, `debug`, `nosmp`, `ignore_loglevel`,
/// `ftrace_dump_on_oops`) ignore any value, like Linux, where `quiet=0`
/// still means quiet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BootParams<'a> {
    /// `console=`: the last one, which Linux makes `/dev/console`.
    pub console: Option<&'a str>,
    /// `init=`: program to run as PID 1 instead of the default search.
    pub init: Option<&'a str>,
    /// `rdinit=`: program to run from the initramfs.
    pub rdinit: Option<&'a str>,
    /// `root=`: root device.
    pub root: Option<&'a str>,
    /// `maxcpus=`: CPUs to bring up at boot.
    pub maxcpus: Option<u32>,
    /// `nr_cpus=`: CPUs to support at all.
    pub nr_cpus: Option<u32>,
    /// `nosmp`: Linux treats it as `maxcpus=0`; both are kept as written.
    pub nosmp: bool,
    /// `panic=`: seconds to wait before rebooting after a panic; 0 waits
    /// forever, negative reboots at once.
    pub panic: i64,
    /// `loglevel=`: console log level as given (Linux uses 0..=15).
    pub loglevel: Option<u8>,
    /// `quiet`: console log level 4.
    pub quiet: bool,
    /// `debug`: console log level 10.
    pub debug: bool,
    /// `ignore_loglevel`: print every message whatever its level.
    pub ignore_loglevel: bool,
    /// `trace_event=`: comma-separated events to enable at boot.
    pub trace_event: Option<&'a str>,
    /// `ftrace_dump_on_oops`: dump the trace buffer on an oops.
    pub ftrace_dump_on_oops: bool,
    /// `tine.hz=`: timer frequency, one of [`ALLOWED_HZ`].
    pub hz: Option<u32>,
    /// `tine.ktest=`: which in-kernel tests to run.
    pub ktest: Option<&'a str>,
    /// `tine.fail_cpu_boot=N` (fault injection, like Linux's `fail_*`
    /// knobs): never send the start-up IPI to CPU N, to exercise the
    /// path where a CPU does not come up.
    pub fail_cpu_boot: Option<u32>,
    /// Tokens of parameters Tine does not know, as written, in order.
    pub unknown: Vec<&'a str>,
    /// One line per rejected value, naming the parameter and the value.
    pub warnings: Vec<String>,
    /// Extra arguments for init: unknown parameters without `=` and
    /// everything after `--`.
    pub init_argv: Vec<&'a str>,
    /// Environment for init: unknown `name=value` parameters.
    pub init_envp: Vec<&'a str>,
}

impl<'a> BootParams<'a> {
    /// Parse a whole command line.  Never fails; see the type's
    /// documentation for how bad values are handled.
    pub fn parse(cmdline: &'a str) -> Self {
        let mut bp = Self::default();
        let mut it = params(cmdline);
        while let Some(arg) = it.next_arg() {
            bp.apply(arg);
        }
        // Linux's set_init_arg: after `--` everything is for init, whatever
        // it looks like.
        if let Some(rest) = it.after_dashdash() {
            let mut init_args = params(rest);
            while let Some(arg) = init_args.next_arg() {
                bp.init_argv.push(arg.joined);
            }
        }
        bp
    }

    fn apply(&mut self, arg: Arg<'a>) {
        let Some(which) = known(arg.param) else {
            self.unknown_bootoption(arg);
            return;
        };
        match which {
            Known::Console => self.console = self.string(arg).or(self.console),
            Known::Init => self.init = self.string(arg).or(self.init),
            Known::RdInit => self.rdinit = self.string(arg).or(self.rdinit),
            Known::Root => self.root = self.string(arg).or(self.root),
            Known::TraceEvent => self.trace_event = self.string(arg).or(self.trace_event),
            Known::TineKtest => self.ktest = self.string(arg).or(self.ktest),
            Known::MaxCpus => self.maxcpus = self.number(arg, parse_u32).or(self.maxcpus),
            Known::TineFailCpuBoot => self.fail_cpu_boot = self.number(arg, parse_u32).or(self.fail_cpu_boot),
            Known::NrCpus => self.nr_cpus = self.number(arg, parse_u32).or(self.nr_cpus),
            Known::LogLevel => self.loglevel = self.number(arg, parse_u8).or(self.loglevel),
            Known::Panic => self.panic = self.number(arg, parse_i64).unwrap_or(self.panic),
            Known::TineHz => self.hz = self.tine_hz(arg).or(self.hz),
            Known::NoSmp => self.nosmp = true,
            Known::Quiet => self.quiet = true,
            Known::Debug => self.debug = true,
            Known::IgnoreLogLevel => self.ignore_loglevel = true,
            Known::FtraceDumpOnOops => self.ftrace_dump_on_oops = true,
            Known::Ignored => {}
        }
    }

    /// The value of a parameter that needs one, or a warning.
    fn string(&mut self, arg: Arg<'a>) -> Option<&'a str> {
        let v = nonempty(arg.val);
        if v.is_none() {
            self.warnings
                .push(format!("Missing value for {}", arg.param));
        }
        v
    }

    /// The value of a numeric parameter, or a warning.
    fn number<T>(&mut self, arg: Arg<'a>, parse: fn(&str) -> Option<T>) -> Option<T> {
        let v = self.string(arg)?;
        let n = parse(v);
        if n.is_none() {
            self.warnings
                .push(format!("Malformed value for {}: \"{}\"", arg.param, v));
        }
        n
    }

    /// `tine.hz=` names the allowed values when given another number.
    fn tine_hz(&mut self, arg: Arg<'a>) -> Option<u32> {
        let hz = self.number(arg, parse_u32)?;
        if !ALLOWED_HZ.contains(&hz) {
            self.warnings.push(format!(
                "Unsupported value for {}: \"{}\" (allowed: 100, 250, 300, 1000)",
                arg.param,
                arg.val.unwrap_or("")
            ));
            return None;
        }
        Some(hz)
    }

    /// Linux `unknown_bootoption`: report it, and pass it on to init.
    fn unknown_bootoption(&mut self, arg: Arg<'a>) {
        self.unknown.push(arg.raw);
        // A dot means a parameter for some module that is not built in;
        // Linux drops those rather than confuse init with them.
        if arg.param.contains('.') {
            return;
        }
        match arg.val {
            None => self.init_argv.push(arg.param),
            Some(_) => {
                // A later `name=` replaces an earlier one, as with setenv.
                let name_len = arg.param.len() + 1;
                let prefix = sub(arg.joined, 0, name_len);
                match self
                    .init_envp
                    .iter_mut()
                    .find(|e| e.get(..name_len) == Some(prefix))
                {
                    Some(slot) => *slot = arg.joined,
                    None => self.init_envp.push(arg.joined),
                }
            }
        }
    }
}

/// The console and log level settings, for the earliest boot messages.
///
/// Returns `(console, loglevel, quiet, ignore_loglevel)` with the same
/// meaning as the [`BootParams`] fields of those names, but allocates
/// nothing, so it can run before the heap exists.  Bad values are silently
/// skipped here; [`BootParams::parse`] reports them later.
pub fn early_console_loglevel(cmdline: &str) -> (Option<&str>, Option<u8>, bool, bool) {
    let mut console = None;
    let mut loglevel = None;
    let mut quiet = false;
    let mut ignore_loglevel = false;
    for (param, val) in params(cmdline) {
        match known(param) {
            Some(Known::Console) => console = nonempty(val).or(console),
            Some(Known::LogLevel) => loglevel = nonempty(val).and_then(parse_u8).or(loglevel),
            Some(Known::Quiet) => quiet = true,
            Some(Known::IgnoreLogLevel) => ignore_loglevel = true,
            _ => {}
        }
    }
    (console, loglevel, quiet, ignore_loglevel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn all(s: &str) -> Vec<(&str, Option<&str>)> {
        params(s).collect()
    }

    #[test]
    fn splits_on_whitespace_and_equals() {
        assert_eq!(
            all("  root=/dev/sda1\tro \n quiet  a=b=c  "),
            vec![
                ("root", Some("/dev/sda1")),
                ("ro", None),
                ("quiet", None),
                ("a", Some("b=c"))
            ]
        );
        assert_eq!(all("x\x0by"), vec![("x", None), ("y", None)]);
    }

    #[test]
    fn empty_line() {
        assert!(all("").is_empty());
        assert!(all(" \t\n ").is_empty());
        assert_eq!(BootParams::parse(""), BootParams::default());
        assert_eq!(BootParams::parse("   "), BootParams::default());
        assert_eq!(init_args_after_dashdash(""), None);
        assert_eq!(early_console_loglevel(""), (None, None, false, false));
    }

    #[test]
    fn empty_value_and_leading_equals() {
        assert_eq!(all("foo="), vec![("foo", Some(""))]);
        // Linux only splits at an `=` after the first character.
        assert_eq!(all("=x"), vec![("=x", None)]);
        assert_eq!(all("=x=y"), vec![("=x", Some("y"))]);
    }

    #[test]
    fn quoting() {
        assert_eq!(
            all(r#"foo="a b" c"#),
            vec![("foo", Some("a b")), ("c", None)]
        );
        assert_eq!(
            all(r#""foo=a b" c"#),
            vec![("foo", Some("a b")), ("c", None)]
        );
        assert_eq!(all(r#""just words""#), vec![("just words", None)]);
        assert_eq!(all(r#"foo="""#), vec![("foo", Some(""))]);
        assert_eq!(all(r#"foo=""#), vec![("foo", Some(""))]);
        assert_eq!(all(r#""foo=""#), vec![("foo", Some(""))]);
        // An unterminated quote swallows the rest of the line.
        assert_eq!(all(r#"a="b c d"#), vec![("a", Some("b c d"))]);
        assert_eq!(all("\""), vec![("", None)]);
        // Quotes in the middle of a value are kept.
        assert_eq!(
            all(r#"a=x"y z"w k"#),
            vec![("a", Some(r#"x"y z"w"#)), ("k", None)]
        );
    }

    #[test]
    fn quoted_console_value() {
        let bp = BootParams::parse(r#"console="ttyS0,115200 n8" quiet"#);
        assert_eq!(bp.console, Some("ttyS0,115200 n8"));
        assert!(bp.quiet);
    }

    #[test]
    fn dashdash_stops_iteration() {
        assert_eq!(all("a b=1 -- c d=2"), vec![("a", None), ("b", Some("1"))]);
        assert_eq!(all("-- a"), vec![]);
        assert_eq!(
            all("a --x b"),
            vec![("a", None), ("--x", None), ("b", None)]
        );
        // `--=x` has a value, so it is an ordinary parameter.
        assert_eq!(all("--=x b"), vec![("--", Some("x")), ("b", None)]);
        assert_eq!(init_args_after_dashdash("a -- b c  "), Some("b c"));
        assert_eq!(init_args_after_dashdash("a --   b\t"), Some("b"));
        assert_eq!(init_args_after_dashdash("-- x"), Some("x"));
        assert_eq!(init_args_after_dashdash("a --"), Some(""));
        assert_eq!(init_args_after_dashdash("a b"), None);
        assert_eq!(init_args_after_dashdash("a--b"), None);
        assert_eq!(init_args_after_dashdash(r#"a="x -- y" z"#), None);
    }

    #[test]
    fn dashes_and_underscores() {
        assert!(parameq("ignore_loglevel", "ignore-loglevel"));
        assert!(parameq("a-b_c", "a_b-c"));
        assert!(!parameq("abc", "abd"));
        assert!(!parameq("abc", "ab"));
        assert!(!parameq("Quiet", "quiet"));
        let bp =
            BootParams::parse("ignore-loglevel nr-cpus=4 ftrace-dump-on-oops trace-event=sched:*");
        assert!(bp.ignore_loglevel);
        assert_eq!(bp.nr_cpus, Some(4));
        assert!(bp.ftrace_dump_on_oops);
        assert_eq!(bp.trace_event, Some("sched:*"));
        assert!(bp.unknown.is_empty());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("42"), Some(42));
        assert_eq!(parse_u64("+42"), Some(42));
        assert_eq!(parse_u64("0x1F"), Some(31));
        assert_eq!(parse_u64("0X1f"), Some(31));
        assert_eq!(parse_u64("010"), Some(8));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64("18446744073709551616"), None);
        assert_eq!(parse_u64("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_u64("0x10000000000000000"), None);
        for bad in [
            "", "+", "0x", "0xg", "08", "12a", " 1", "1 ", "-1", "++1", "٣",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_i64("-1"), Some(-1));
        assert_eq!(parse_i64("-0x10"), Some(-16));
        assert_eq!(parse_i64("-0"), Some(0));
        assert_eq!(parse_i64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64("9223372036854775808"), None);
        assert_eq!(parse_i64("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64("-9223372036854775809"), None);
        assert_eq!(parse_i64("-+1"), None);
        assert_eq!(parse_i64("--1"), None);
        assert_eq!(parse_i64("-"), None);
    }

    #[test]
    fn every_known_param() {
        let bp = BootParams::parse(
            "console=ttyS0 init=/bin/sh rdinit=/init root=/dev/vda maxcpus=2 nr_cpus=0x8 \
             nosmp panic=-1 loglevel=7 quiet debug ignore_loglevel trace_event=irq:* \
             ftrace_dump_on_oops tine.hz=250 tine.ktest=all ro rw earlyprintk=serial \
             rootfstype=ext4 BOOT_IMAGE=/vmlinuz",
        );
        assert_eq!(bp.console, Some("ttyS0"));
        assert_eq!(bp.init, Some("/bin/sh"));
        assert_eq!(bp.rdinit, Some("/init"));
        assert_eq!(bp.root, Some("/dev/vda"));
        assert_eq!(bp.maxcpus, Some(2));
        assert_eq!(bp.nr_cpus, Some(8));
        assert!(bp.nosmp);
        assert_eq!(bp.panic, -1);
        assert_eq!(bp.loglevel, Some(7));
        assert!(bp.quiet);
        assert!(bp.debug);
        assert!(bp.ignore_loglevel);
        assert_eq!(bp.trace_event, Some("irq:*"));
        assert!(bp.ftrace_dump_on_oops);
        assert_eq!(bp.hz, Some(250));
        assert_eq!(bp.ktest, Some("all"));
        assert_eq!(BootParams::parse("tine.fail_cpu_boot=2").fail_cpu_boot, Some(2));
        assert_eq!(BootParams::parse("tine.fail_cpu_boot=x").fail_cpu_boot, None);
        assert!(bp.unknown.is_empty(), "{:?}", bp.unknown);
        assert!(bp.warnings.is_empty(), "{:?}", bp.warnings);
        assert!(bp.init_argv.is_empty());
        assert!(bp.init_envp.is_empty());
    }

    #[test]
    fn defaults() {
        let bp = BootParams::default();
        assert_eq!(bp.panic, 0);
        assert_eq!(bp.console, None);
        assert_eq!(bp.maxcpus, None);
        assert!(!bp.quiet && !bp.nosmp && !bp.debug);
        assert!(bp.unknown.is_empty() && bp.warnings.is_empty());
    }

    #[test]
    fn flags_ignore_values() {
        let bp = BootParams::parse("quiet=0 nosmp=1 debug= ftrace_dump_on_oops=orig_cpu ro=x");
        assert!(bp.quiet && bp.nosmp && bp.debug && bp.ftrace_dump_on_oops);
        assert!(bp.warnings.is_empty() && bp.unknown.is_empty());
    }

    #[test]
    fn hz_values() {
        for hz in ALLOWED_HZ {
            let line = format!("tine.hz={hz}");
            assert_eq!(BootParams::parse(&line).hz, Some(hz));
        }
        assert_eq!(BootParams::parse("tine.hz=0x64").hz, Some(100));
        for bad in [
            "tine.hz=60",
            "tine.hz=0",
            "tine.hz=fast",
            "tine.hz=",
            "tine.hz",
        ] {
            let bp = BootParams::parse(bad);
            assert_eq!(bp.hz, None, "{bad}");
            assert_eq!(bp.warnings.len(), 1, "{bad}");
            assert!(bp.warnings[0].contains("tine.hz"), "{:?}", bp.warnings);
        }
    }

    #[test]
    fn bad_values_warn_and_keep_default() {
        let bp =
            BootParams::parse("panic=xyz maxcpus=-3 loglevel=abc nr_cpus=99999999999 loglevel=256");
        assert_eq!(bp.panic, 0);
        assert_eq!(bp.maxcpus, None);
        assert_eq!(bp.loglevel, None);
        assert_eq!(bp.nr_cpus, None);
        assert_eq!(
            bp.warnings,
            vec![
                "Malformed value for panic: \"xyz\"",
                "Malformed value for maxcpus: \"-3\"",
                "Malformed value for loglevel: \"abc\"",
                "Malformed value for nr_cpus: \"99999999999\"",
                "Malformed value for loglevel: \"256\"",
            ]
        );
        assert!(bp.unknown.is_empty());
    }

    #[test]
    fn bad_value_keeps_earlier_good_one() {
        let bp = BootParams::parse("loglevel=3 loglevel=x panic=5 panic= tine.hz=300 tine.hz=7");
        assert_eq!(bp.loglevel, Some(3));
        assert_eq!(bp.panic, 5);
        assert_eq!(bp.hz, Some(300));
        assert_eq!(bp.warnings.len(), 3);
    }

    #[test]
    fn missing_values_warn() {
        let bp = BootParams::parse("console init= root maxcpus");
        assert_eq!(bp.console, None);
        assert_eq!(bp.init, None);
        assert_eq!(bp.root, None);
        assert_eq!(bp.maxcpus, None);
        assert_eq!(
            bp.warnings,
            vec![
                "Missing value for console",
                "Missing value for init",
                "Missing value for root",
                "Missing value for maxcpus",
            ]
        );
    }

    #[test]
    fn loglevel_range() {
        assert_eq!(BootParams::parse("loglevel=0").loglevel, Some(0));
        assert_eq!(BootParams::parse("loglevel=15").loglevel, Some(15));
        assert_eq!(BootParams::parse("loglevel=0xf").loglevel, Some(15));
        assert_eq!(BootParams::parse("loglevel=-1").loglevel, None);
    }

    #[test]
    fn panic_values() {
        assert_eq!(BootParams::parse("panic=10").panic, 10);
        assert_eq!(BootParams::parse("panic=-1").panic, -1);
        assert_eq!(BootParams::parse("panic=0x20").panic, 32);
    }

    #[test]
    fn last_console_wins() {
        let bp = BootParams::parse("console=tty0 console=ttyS0,115200 quiet");
        assert_eq!(bp.console, Some("ttyS0,115200"));
        let (console, ..) = early_console_loglevel("console=tty0 console=ttyS0,115200 quiet");
        assert_eq!(console, Some("ttyS0,115200"));
    }

    #[test]
    fn unknown_in_order_and_passed_to_init() {
        let bp = BootParams::parse(
            r#"foo bar=1 root=/dev/sda single "weird=a b" usbcore.autosuspend=1 mod.flag LANG=C bar=2"#,
        );
        assert_eq!(
            bp.unknown,
            vec![
                "foo",
                "bar=1",
                "single",
                r#""weird=a b""#,
                "usbcore.autosuspend=1",
                "mod.flag",
                "LANG=C",
                "bar=2"
            ]
        );
        assert_eq!(bp.init_argv, vec!["foo", "single"]);
        // Dotted names are module parameters and do not reach init; a
        // repeated variable replaces the earlier one in place.
        assert_eq!(bp.init_envp, vec!["bar=2", "weird=a b", "LANG=C"]);
        assert_eq!(bp.root, Some("/dev/sda"));
    }

    #[test]
    fn args_after_dashdash_go_to_init() {
        let bp = BootParams::parse(r#"x quiet -- single "a b" k=v console=tty1 -- z"#);
        assert!(bp.quiet);
        // Known names after `--` are not interpreted: they belong to init.
        assert_eq!(bp.console, None);
        assert_eq!(bp.unknown, vec!["x"]);
        // As in Linux, a second `--` ends init's arguments too.
        assert_eq!(
            bp.init_argv,
            vec!["x", "single", "a b", "k=v", "console=tty1"]
        );
        assert!(bp.init_envp.is_empty());
    }

    #[test]
    fn early_parse_matches_full_parse() {
        let lines = [
            "",
            "quiet",
            "console=ttyS0 loglevel=8 ignore_loglevel",
            "loglevel=4 loglevel=zz console= console=hvc0",
            "ignore-loglevel loglevel=0x7 -- quiet console=tty0",
            r#"console="ttyS0,9600" loglevel=300"#,
        ];
        for line in lines {
            let bp = BootParams::parse(line);
            assert_eq!(
                early_console_loglevel(line),
                (bp.console, bp.loglevel, bp.quiet, bp.ignore_loglevel),
                "{line:?}"
            );
        }
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        // Every split of a line full of quotes, `=`, `-` and multi-byte
        // characters must parse without panicking.
        let line = "é=\"ü\" \"-- =\"=\u{a0}x -- \"\" =\t\"\"=\"\" ñ";
        for (i, _) in line.char_indices() {
            let s = &line[i..];
            let _ = all(s);
            let _ = BootParams::parse(s);
            let _ = early_console_loglevel(s);
            let _ = init_args_after_dashdash(s);
        }
    }
}
