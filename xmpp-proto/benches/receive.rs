#![allow(unsafe_code, missing_docs)]
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
struct C;
static N: AtomicU64 = AtomicU64::new(0);
unsafe impl GlobalAlloc for C {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 { N.fetch_add(1, Ordering::Relaxed); unsafe { System.alloc(l) } }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) { unsafe { System.dealloc(p, l) } }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 { N.fetch_add(1, Ordering::Relaxed); unsafe { System.realloc(p, l, n) } }
}
#[global_allocator]
static A: C = C;
use rxml::Parse;
fn run<P: Parse + Default>(data: &[u8]) -> (f64, u64, u64) {
    let t = std::time::Instant::now();
    let a0 = N.load(Ordering::Relaxed);
    let mut p = P::default();
    let mut evs = 0u64;
    for chunk in data.chunks(4096) {
        let mut c = chunk;
        loop {
            match p.parse(&mut c, false) {
                Ok(Some(_)) => evs += 1,
                Ok(None) => break,
                Err(rxml::error::EndOrError::NeedMoreData) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
    }
    (t.elapsed().as_secs_f64(), N.load(Ordering::Relaxed) - a0, evs)
}
fn main() {
    let data = std::fs::read("/tmp/c2s.xml").unwrap();
    for _ in 0..5 {
        let (t, a, e) = run::<rxml::Parser>(&data);
        println!("parser {:.1} MB/s allocs/st {:.2} evs {}", data.len() as f64 / t / 1e6, a as f64 / 18000.0, e);
        let (t, a, e) = run::<rxml::RawParser>(&data);
        println!("raw    {:.1} MB/s allocs/st {:.2} evs {}", data.len() as f64 / t / 1e6, a as f64 / 18000.0, e);
    }
}
