//! The console terminal: the tty layer and its line discipline (mirrors
//! drivers/tty/tty_io.c's tty_read/tty_write/tty_ioctl, tty_jobctrl.c's
//! controlling-terminal and foreground-group rules, and n_tty.c's input
//! processing with canonical mode, echo and the signal characters).
//!
//! There is one tty, the serial console (/dev/console; /dev/tty is the
//! caller's controlling terminal, which can only be this one). Input bytes
//! arrive from serial8250_poll (the UART is polled on CPU 0's tick: no
//! IOAPIC routing yet) and go through `n_tty_receive_char`:
//!
//! - ICRNL turns CR into NL; ISIG makes ^C/^\ send SIGINT/SIGQUIT to the
//!   foreground process group (if a session owns the tty, as on Linux);
//! - with ICANON, input is edited in a line buffer (ERASE, KILL, WERASE)
//!   and handed to readers a line at a time; EOF (^D) ends a line without
//!   a newline, so an empty one reads as end of file;
//! - without ICANON (a shell's line editor), bytes go to readers at once
//!   (VMIN 0 with VTIME 0 returns what is there, else waits for a byte);
//! - ECHO, ECHOE, ECHOK, ECHOCTL echo as n_tty does.
//!
//! termios comes and goes with TCGETS/TCSETS*, the window size with
//! TIOCGWINSZ/TIOCSWINSZ, the foreground group with TIOCGPGRP/TIOCSPGRP,
//! and a session leader acquires the console with TIOCSCTTY or by opening
//! it without O_NOCTTY.
//!
//! Left out: job-control stops (SIGTSTP/SIGTTIN/SIGTTOU are not sent:
//! Tine has no stopped state yet), flow control (IXON), output
//! processing beyond ONLCR (done always by the console driver), the
//! VREPRINT/VLNEXT/VDISCARD characters, parity and baud settings (kept,
//! not applied), hangups, ptys and poll/select.

use crate::kernel::errno::*;
use crate::kernel::sched::wait::WaitQueueHead;
use crate::kernel::task::{current, TaskStruct, TASK_INTERRUPTIBLE};
use crate::sync::SpinLock;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::Ordering::*;

// c_iflag, c_oflag, c_cflag, c_lflag bits (include/uapi/asm-generic/termbits.h).
const ICRNL: u32 = 0o400;
const IGNCR: u32 = 0o200;
const INLCR: u32 = 0o100;
const IXON: u32 = 0o2000;
const OPOST: u32 = 0o1;
const ONLCR: u32 = 0o4;
const B38400: u32 = 0o17;
const CS8: u32 = 0o60;
const CREAD: u32 = 0o200;
const HUPCL: u32 = 0o2000;
const ISIG: u32 = 0o1;
const ICANON: u32 = 0o2;
const ECHO: u32 = 0o10;
const ECHOE: u32 = 0o20;
const ECHOK: u32 = 0o40;
const ECHONL: u32 = 0o100;
const NOFLSH: u32 = 0o200;
const ECHOCTL: u32 = 0o1000;
const ECHOKE: u32 = 0o4000;
const IEXTEN: u32 = 0o100000;
// c_cc indices.
const VINTR: usize = 0;
const VQUIT: usize = 1;
const VERASE: usize = 2;
const VKILL: usize = 3;
const VEOF: usize = 4;
const VTIME: usize = 5;
const VMIN: usize = 6;
const VWERASE: usize = 14;
const NCCS: usize = 19;

/// `struct termios` as the TCGETS family passes it (36 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
}

impl Termios {
    /// `tty_std_termios` with INIT_C_CC.
    const fn standard() -> Termios {
        Termios {
            iflag: ICRNL | IXON,
            oflag: OPOST | ONLCR,
            cflag: B38400 | CS8 | CREAD | HUPCL,
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            line: 0,
            cc: [3, 0o34, 0o177, 0o25, 4, 0, 1, 0, 0o21, 0o23, 0o32, 0, 0o22, 0o17, 0o27, 0o26, 0, 0, 0],
        }
    }

    fn to_bytes(self) -> [u8; 36] {
        let mut b = [0u8; 36];
        for (i, v) in [self.iflag, self.oflag, self.cflag, self.lflag].iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        b[16] = self.line;
        b[17..36].copy_from_slice(&self.cc);
        b
    }

    fn from_bytes(b: &[u8; 36]) -> Termios {
        let w = |i: usize| u32::from_le_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&b[17..36]);
        Termios { iflag: w(0), oflag: w(1), cflag: w(2), lflag: w(3), line: b[16], cc }
    }
}

struct TtyState {
    termios: Termios,
    /// Rows, columns, xpixel, ypixel (TIOCGWINSZ).
    winsize: [u16; 4],
    /// Bytes readers may take: whole lines in canonical mode.
    read_buf: VecDeque<u8>,
    /// Canonical mode: the line being edited, not yet readable.
    line: Vec<u8>,
    /// Line ends (NL, EOL or EOF) in read_buf still to be read; an EOF
    /// ends a line without putting a byte in the buffer, so its end is
    /// remembered as a position in `eof_marks`.
    eof_marks: VecDeque<usize>,
    /// Foreground process group and owning session (0: none), as
    /// tty->pgrp and tty->session.
    pgrp: i32,
    session: i32,
}

pub struct Tty {
    state: SpinLock<TtyState>,
    read_wait: WaitQueueHead,
}

/// The console's tty.
pub static CONSOLE_TTY: Tty = Tty {
    state: SpinLock::new(
        "tty->ctrl_lock",
        TtyState {
            termios: Termios::standard(),
            winsize: [24, 80, 0, 0],
            read_buf: VecDeque::new(),
            line: Vec::new(),
            eof_marks: VecDeque::new(),
            pgrp: 0,
            session: 0,
        },
    ),
    read_wait: WaitQueueHead::new(),
};

/// Input beyond this is dropped (N_TTY_BUF_SIZE).
const N_TTY_BUF_SIZE: usize = 4096;

fn echo(s: &[u8]) {
    crate::drivers::tty::serial::serial8250::console_write(s);
}

/// `echo_char`: a control character shows as ^X with ECHOCTL.
fn echo_char(t: &Termios, c: u8) {
    if t.lflag & ECHOCTL != 0 && c < 32 && c != b'\n' && c != b'\t' {
        echo(&[b'^', c + 64]);
    } else {
        echo(&[c]);
    }
}

impl Tty {
    /// `n_tty_receive_char`: one input byte, from the UART poll.
    pub fn receive_char(&self, mut c: u8) {
        let mut signal = None;
        {
            let mut st = self.state.lock_irqsave();
            let t = st.termios;
            if c == b'\r' {
                if t.iflag & IGNCR != 0 {
                    return;
                }
                if t.iflag & ICRNL != 0 {
                    c = b'\n';
                }
            } else if c == b'\n' && t.iflag & INLCR != 0 {
                c = b'\r';
            }
            if t.lflag & ISIG != 0 && (c == t.cc[VINTR] || c == t.cc[VQUIT]) && c != 0 {
                // isig(): flush unless NOFLSH, echo, and signal the foreground group.
                if t.lflag & NOFLSH == 0 {
                    st.read_buf.clear();
                    st.line.clear();
                    st.eof_marks.clear();
                }
                if t.lflag & ECHO != 0 {
                    echo_char(&t, c);
                    echo(b"\n");
                }
                let sig = if c == t.cc[VINTR] { crate::kernel::signal::SIGINT } else { crate::kernel::signal::SIGQUIT };
                signal = Some((sig, st.pgrp));
            } else if t.lflag & ICANON != 0 {
                self.canon_char(&mut st, c);
            } else {
                if st.read_buf.len() < N_TTY_BUF_SIZE {
                    st.read_buf.push_back(c);
                }
                if t.lflag & ECHO != 0 {
                    echo_char(&t, c);
                }
            }
        }
        if let Some((sig, pgrp)) = signal {
            if pgrp > 0 {
                let _ = crate::kernel::signal::kill_pgrp(pgrp, sig, crate::kernel::signal::SI_KERNEL);
            }
        }
        self.read_wait.wake_up_all();
        crate::fs::select::poll_wake();
    }

    /// Canonical-mode editing of the current line.
    fn canon_char(&self, st: &mut TtyState, c: u8) {
        let t = st.termios;
        let echo_on = t.lflag & ECHO != 0;
        if c == t.cc[VERASE] || c == 8 {
            if st.line.pop().is_some() && echo_on && t.lflag & ECHOE != 0 {
                echo(b"\x08 \x08");
            }
        } else if c == t.cc[VKILL] {
            let n = st.line.len();
            st.line.clear();
            if echo_on && t.lflag & (ECHOK | ECHOKE) != 0 {
                for _ in 0..n {
                    echo(b"\x08 \x08");
                }
            }
        } else if c == t.cc[VWERASE] && t.lflag & IEXTEN != 0 {
            while st.line.last() == Some(&b' ') {
                st.line.pop();
                if echo_on {
                    echo(b"\x08 \x08");
                }
            }
            while st.line.last().is_some_and(|&b| b != b' ') {
                st.line.pop();
                if echo_on {
                    echo(b"\x08 \x08");
                }
            }
        } else if c == t.cc[VEOF] && c != 0 {
            // The line so far becomes readable, with no terminator.
            let line = core::mem::take(&mut st.line);
            st.read_buf.extend(line);
            let end = st.read_buf.len();
            st.eof_marks.push_back(end);
        } else if c == b'\n' {
            let mut line = core::mem::take(&mut st.line);
            line.push(b'\n');
            st.read_buf.extend(line);
            if echo_on || t.lflag & ECHONL != 0 {
                echo(b"\n");
            }
        } else if st.line.len() < N_TTY_BUF_SIZE - 1 {
            st.line.push(c);
            if echo_on {
                echo_char(&t, c);
            }
        }
    }

    /// Whether a read would return now (data, or an EOF mark).
    pub fn input_available(&self) -> bool {
        let st = self.state.lock_irqsave();
        if st.termios.lflag & ICANON != 0 {
            !st.read_buf.is_empty() || !st.eof_marks.is_empty()
        } else {
            !st.read_buf.is_empty() || st.termios.cc[VMIN] == 0
        }
    }

    /// `n_tty_read`: a line (canonical) or what is there (raw), sleeping
    /// until there is something. ERESTARTSYS if a signal comes first.
    pub fn read(&self, out: &mut [u8], nonblock: bool) -> KResult<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let cur = current();
        loop {
            {
                let mut st = self.state.lock_irqsave();
                let canon = st.termios.lflag & ICANON != 0;
                if canon {
                    // An EOF mark at position 0: end of file (empty line).
                    if st.eof_marks.front() == Some(&0) {
                        st.eof_marks.pop_front();
                        return Ok(0);
                    }
                    let limit = st.eof_marks.front().copied().unwrap_or(usize::MAX);
                    let mut n = 0;
                    while n < out.len() && n < limit {
                        let Some(b) = st.read_buf.pop_front() else { break };
                        out[n] = b;
                        n += 1;
                        if b == b'\n' {
                            break;
                        }
                    }
                    if n > 0 {
                        for m in st.eof_marks.iter_mut() {
                            *m -= n;
                        }
                        if st.eof_marks.front() == Some(&0) && limit != usize::MAX && n == limit {
                            st.eof_marks.pop_front(); // this read ended at the EOF
                        }
                        return Ok(n);
                    }
                } else {
                    let n = out.len().min(st.read_buf.len());
                    if n > 0 || st.termios.cc[VMIN] == 0 {
                        for o in out.iter_mut().take(n) {
                            *o = st.read_buf.pop_front().unwrap_or(0);
                        }
                        return Ok(n);
                    }
                }
            }
            if nonblock {
                return Err(EAGAIN);
            }
            self.read_wait.prepare_to_wait(TASK_INTERRUPTIBLE);
            if self.input_available() {
                self.read_wait.finish_wait();
                continue;
            }
            if crate::kernel::signal::signal_pending(&cur) {
                self.read_wait.finish_wait();
                return Err(ERESTARTSYS);
            }
            crate::kernel::sched::core::schedule();
            self.read_wait.finish_wait();
        }
    }

    /// Bytes a read could take now (FIONREAD).
    fn nr_readable(&self) -> usize {
        self.state.lock_irqsave().read_buf.len()
    }

    /// The console is `p`'s controlling terminal.
    pub fn is_ctty_of(&self, p: &TaskStruct) -> bool {
        let s = self.state.lock_irqsave().session;
        s != 0 && s == p.signal.session.load(Relaxed)
    }

    /// `tty_open_proc_set_tty`: a session leader without a terminal that
    /// opens the console (without O_NOCTTY) makes it its own.
    pub fn open(&self, noctty: bool) {
        let cur = current();
        let sid = cur.signal.session.load(Relaxed);
        if noctty || sid != cur.tgid {
            return;
        }
        let mut st = self.state.lock_irqsave();
        if st.session == 0 {
            st.session = sid;
            st.pgrp = cur.signal.pgrp.load(Relaxed);
        }
    }

    /// `disassociate_ctty` for setsid(): the old session's leader leaving
    /// is not tracked; a new session simply has no terminal.
    pub fn session_gone(&self, sid: i32) {
        let mut st = self.state.lock_irqsave();
        if st.session == sid {
            st.session = 0;
            st.pgrp = 0;
        }
    }

    /// `tty_ioctl` for the terminal requests.
    pub fn ioctl(&self, cmd: u32, arg: u64) -> KResult<u64> {
        use crate::arch::uaccess::{copy_from_user, copy_to_user, put_user_u32};
        const TCGETS: u32 = 0x5401;
        const TCSETS: u32 = 0x5402;
        const TCSETSW: u32 = 0x5403;
        const TCSETSF: u32 = 0x5404;
        const TCSBRK: u32 = 0x5409;
        const TCFLSH: u32 = 0x540b;
        const TIOCSCTTY: u32 = 0x540e;
        const TIOCGPGRP: u32 = 0x540f;
        const TIOCSPGRP: u32 = 0x5410;
        const TIOCGWINSZ: u32 = 0x5413;
        const TIOCSWINSZ: u32 = 0x5414;
        const FIONREAD: u32 = 0x541b;
        const TIOCNOTTY: u32 = 0x5422;
        const TIOCGSID: u32 = 0x5429;
        let cur = current();
        match cmd {
            TCGETS => {
                let t = self.state.lock_irqsave().termios;
                copy_to_user(arg, &t.to_bytes())?;
                Ok(0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                let mut b = [0u8; 36];
                copy_from_user(&mut b, arg)?;
                let new = Termios::from_bytes(&b);
                let mut st = self.state.lock_irqsave();
                if cmd == TCSETSF {
                    st.read_buf.clear();
                    st.eof_marks.clear();
                }
                // Leaving canonical mode makes the edited line readable
                // (n_tty_set_termios).
                if st.termios.lflag & ICANON != 0 && new.lflag & ICANON == 0 {
                    let line = core::mem::take(&mut st.line);
                    st.read_buf.extend(line);
                    st.eof_marks.clear();
                }
                st.termios = new;
                drop(st);
                self.read_wait.wake_up_all();
                Ok(0)
            }
            // tcdrain(): console output is written synchronously, so it
            // is always drained (a break is not sent).
            TCSBRK => Ok(0),
            TCFLSH => {
                if arg == 0 || arg == 2 {
                    let mut st = self.state.lock_irqsave();
                    st.read_buf.clear();
                    st.line.clear();
                    st.eof_marks.clear();
                }
                Ok(0)
            }
            TIOCGWINSZ => {
                let w = self.state.lock_irqsave().winsize;
                let mut b = [0u8; 8];
                for (i, v) in w.iter().enumerate() {
                    b[i * 2..i * 2 + 2].copy_from_slice(&v.to_le_bytes());
                }
                copy_to_user(arg, &b)?;
                Ok(0)
            }
            TIOCSWINSZ => {
                let mut b = [0u8; 8];
                copy_from_user(&mut b, arg)?;
                let mut w = [0u16; 4];
                for (i, v) in w.iter_mut().enumerate() {
                    *v = u16::from_le_bytes([b[i * 2], b[i * 2 + 1]]);
                }
                self.state.lock_irqsave().winsize = w;
                let pgrp = self.state.lock_irqsave().pgrp;
                if pgrp > 0 {
                    let _ = crate::kernel::signal::kill_pgrp(pgrp, crate::kernel::signal::SIGWINCH, crate::kernel::signal::SI_KERNEL);
                }
                Ok(0)
            }
            FIONREAD => {
                put_user_u32(arg, self.nr_readable() as u32)?;
                Ok(0)
            }
            TIOCSCTTY => {
                // tiocsctty: only a session leader, and only a tty no other
                // session owns (arg 1 would steal it as root; not here).
                let sid = cur.signal.session.load(Relaxed);
                if sid != cur.tgid {
                    return Err(EPERM);
                }
                let mut st = self.state.lock_irqsave();
                if st.session == sid {
                    return Ok(0);
                }
                if st.session != 0 && arg != 1 {
                    return Err(EPERM);
                }
                st.session = sid;
                st.pgrp = cur.signal.pgrp.load(Relaxed);
                Ok(0)
            }
            TIOCNOTTY => {
                if !self.is_ctty_of(&cur) {
                    return Err(ENOTTY);
                }
                if cur.signal.session.load(Relaxed) == cur.tgid {
                    self.session_gone(cur.tgid);
                }
                Ok(0)
            }
            TIOCGPGRP => {
                // Only for one's own controlling terminal.
                if !self.is_ctty_of(&cur) {
                    return Err(ENOTTY);
                }
                let pgrp = self.state.lock_irqsave().pgrp;
                put_user_u32(arg, pgrp as u32)?;
                Ok(0)
            }
            TIOCGSID => {
                if !self.is_ctty_of(&cur) {
                    return Err(ENOTTY);
                }
                let sid = self.state.lock_irqsave().session;
                put_user_u32(arg, sid as u32)?;
                Ok(0)
            }
            TIOCSPGRP => {
                if !self.is_ctty_of(&cur) {
                    return Err(ENOTTY);
                }
                let mut b = [0u8; 4];
                copy_from_user(&mut b, arg)?;
                let pgrp = i32::from_le_bytes(b);
                if pgrp < 0 {
                    return Err(EINVAL);
                }
                let sid = cur.signal.session.load(Relaxed);
                let exists = crate::kernel::pid::for_each_process()
                    .iter()
                    .any(|p| p.thread_group_leader() && p.signal.pgrp.load(Relaxed) == pgrp && p.signal.session.load(Relaxed) == sid);
                if !exists {
                    return Err(EPERM);
                }
                self.state.lock_irqsave().pgrp = pgrp;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }
}

/// Terminal ioctls on the console, for fs/syscalls.rs's sys_ioctl.
pub fn tty_ioctl(cmd: u32, arg: u64) -> KResult<u64> {
    CONSOLE_TTY.ioctl(cmd, arg)
}
