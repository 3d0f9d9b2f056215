//! The CMOS real-time clock, read once at boot (mirrors
//! arch/x86/kernel/rtc.c's mach_get_cmos_time and
//! drivers/rtc/rtc-mc146818-lib.c's mc146818_get_time, then
//! timekeeping_init's mktime64).
//!
//! The wall clock is this reading plus the monotonic clock since; Tine
//! never writes the RTC back and has no NTP adjustment (settimeofday and
//! clock_settime are not implemented).

use super::processor::{inb, outb};

const RTC_PORT_INDEX: u16 = 0x70;
const RTC_PORT_DATA: u16 = 0x71;
const RTC_SECONDS: u8 = 0x00;
const RTC_MINUTES: u8 = 0x02;
const RTC_HOURS: u8 = 0x04;
const RTC_DAY_OF_MONTH: u8 = 0x07;
const RTC_MONTH: u8 = 0x08;
const RTC_YEAR: u8 = 0x09;
const RTC_REG_A: u8 = 0x0a;
const RTC_REG_B: u8 = 0x0b;
const RTC_CENTURY: u8 = 0x32;
const RTC_UIP: u8 = 0x80;
const RTC_DM_BINARY: u8 = 0x04;
const RTC_24H: u8 = 0x02;

fn cmos_read(reg: u8) -> u8 {
    // NMI stays enabled (bit 7 clear), as CMOS_READ does.
    outb(RTC_PORT_INDEX, reg);
    inb(RTC_PORT_DATA)
}

fn bcd2bin(v: u8) -> u32 {
    (v & 0x0f) as u32 + (v >> 4) as u32 * 10
}

/// `mktime64`: seconds since the epoch for a UTC calendar date (Gauss's
/// algorithm, as Linux).
pub fn mktime64(year: u32, mon: u32, day: u32, hour: u32, min: u32, sec: u32) -> u64 {
    let (mut y, mut m) = (year as i64, mon as i64 - 2);
    if m <= 0 {
        m += 12; // March is month 1: February's leap day comes last
        y -= 1;
    }
    let days = y / 4 - y / 100 + y / 400 + 367 * m / 12 + day as i64 + y * 365 - 719_499;
    (((days * 24 + hour as i64) * 60 + min as i64) * 60 + sec as i64).max(0) as u64
}

/// `mach_get_cmos_time`: the RTC's time as seconds since the epoch, or
/// None if there is no sane RTC.
pub fn read_persistent_clock() -> Option<u64> {
    // Wait for an update to finish so the fields agree (bounded).
    for _ in 0..1_000_000 {
        if cmos_read(RTC_REG_A) & RTC_UIP == 0 {
            break;
        }
        core::hint::spin_loop();
    }
    let raw = [RTC_SECONDS, RTC_MINUTES, RTC_HOURS, RTC_DAY_OF_MONTH, RTC_MONTH, RTC_YEAR, RTC_CENTURY].map(cmos_read);
    let ctrl = cmos_read(RTC_REG_B);
    let conv = |v: u8| if ctrl & RTC_DM_BINARY != 0 { v as u32 } else { bcd2bin(v) };
    let (sec, min, day, mon, yr, cent) = (conv(raw[0]), conv(raw[1]), conv(raw[3]), conv(raw[4]), conv(raw[5]), conv(raw[6]));
    let mut hour = conv(raw[2] & 0x7f);
    if ctrl & RTC_24H == 0 {
        // 12-hour mode: bit 7 is PM.
        hour %= 12;
        if raw[2] & 0x80 != 0 {
            hour += 12;
        }
    }
    let year = if (19..=21).contains(&cent) { cent * 100 + yr } else if yr < 70 { 2000 + yr } else { 1900 + yr };
    if sec > 59 || min > 59 || hour > 23 || !(1..=31).contains(&day) || !(1..=12).contains(&mon) {
        return None;
    }
    Some(mktime64(year, mon, day, hour, min, sec))
}
