//! Rust-only benches of the core primitives (criterion): `cargo bench --bench rust_core`.
//! The figure that matters is level updates per second in `book/apply_*`.

use std::hint::black_box;

use _core::{checksum, BookAssembler, Coalescer, OrderBook, ReorderBuffer, TokenBucket, Venue};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// A deterministic stream of level updates near the top of a 1000-level book, the shape of
/// real venue traffic: most changes land within the best 20 levels, one in eight deletes.
fn updates(n: usize) -> Vec<(bool, i64, i64)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let is_bid = x & 1 == 0;
            let offset = ((x >> 8) % 20) as i64;
            let qty = if (x >> 20) % 8 == 0 {
                0
            } else {
                ((x >> 24) % 1000 + 1) as i64
            };
            let price = if is_bid {
                99_999 - offset
            } else {
                100_001 + offset
            };
            (is_bid, price, qty)
        })
        .collect()
}

type Levels = Vec<(i64, i64)>;

fn seeded_book() -> OrderBook {
    let mut book = OrderBook::new(2, 8, Some(1000)).unwrap();
    let bids: Vec<(i64, i64)> = (0..1000).map(|i| (99_999 - i, 100)).collect();
    let asks: Vec<(i64, i64)> = (0..1000).map(|i| (100_001 + i, 100)).collect();
    book.apply_snapshot(&bids, &asks).unwrap();
    book
}

fn bench_book(c: &mut Criterion) {
    let ups = updates(100_000);
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(ups.len() as u64));
    g.bench_function("apply_single_levels", |b| {
        b.iter_batched_ref(
            seeded_book,
            |book| {
                for &(is_bid, p, q) in &ups {
                    if is_bid {
                        book.set_bid(p, q);
                    } else {
                        book.set_ask(p, q);
                    }
                    book.truncate();
                }
            },
            BatchSize::LargeInput,
        )
    });
    let batches: Vec<(Levels, Levels)> = ups
        .chunks(20)
        .map(|chunk| {
            let bids = chunk.iter().filter(|u| u.0).map(|u| (u.1, u.2)).collect();
            let asks = chunk.iter().filter(|u| !u.0).map(|u| (u.1, u.2)).collect();
            (bids, asks)
        })
        .collect();
    g.bench_function("apply_20_level_batches", |b| {
        b.iter_batched_ref(
            seeded_book,
            |book| {
                for (bids, asks) in &batches {
                    book.apply(bids, asks);
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let book = seeded_book();
    c.bench_function("checksum/kraken_fixed_top10", |b| {
        b.iter(|| black_box(&book).checksum_kraken())
    });
    let asks: Vec<(String, String)> = book
        .asks_best_first()
        .take(10)
        .map(|(p, q)| (_core::fixed::render(p, 2), _core::fixed::render(q, 8)))
        .collect();
    let bids: Vec<(String, String)> = book
        .bids_best_first()
        .take(10)
        .map(|(p, q)| (_core::fixed::render(p, 2), _core::fixed::render(q, 8)))
        .collect();
    c.bench_function("checksum/kraken_text_top10", |b| {
        b.iter(|| {
            checksum::kraken_text(
                asks.iter().map(|(p, q)| (p.as_str(), q.as_str())),
                bids.iter().map(|(p, q)| (p.as_str(), q.as_str())),
            )
        })
    });

    c.bench_function("assembler/kraken_update_with_checksum", |b| {
        let mut book = seeded_book();
        let mut asm = BookAssembler::new(Venue::Kraken);
        asm.kraken_snapshot(&mut book, &[(99_999, 5)], &[(100_001, 5)], None)
            .unwrap();
        let mut qty = 1;
        b.iter(|| {
            qty = qty % 1000 + 1;
            asm.kraken_update(&mut book, &[(99_999, qty)], &[], None)
                .unwrap();
            black_box(book.checksum_kraken())
        })
    });
}

fn bench_queues(c: &mut Criterion) {
    c.bench_function("reorder/push_in_order", |b| {
        let mut rb = ReorderBuffer::new(150, 50, 200).unwrap();
        let mut out = Vec::with_capacity(4);
        let mut seq = 0u64;
        b.iter(|| {
            seq += 1;
            out.clear();
            rb.push(seq % 64, seq / 64, seq, 0, &mut out);
            black_box(out.len())
        })
    });
    c.bench_function("coalescer/push_pop", |b| {
        let mut co = Coalescer::new();
        let mut out = Vec::with_capacity(16);
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            co.push(i % 8, i, i % 4 != 0);
            if i % 16 == 0 {
                out.clear();
                co.pop(16, &mut out);
            }
        })
    });
    c.bench_function("bucket/try_acquire", |b| {
        let mut tb = TokenBucket::new(1e9, 1e6).unwrap();
        let mut now = 0u64;
        b.iter(|| {
            now += 10;
            black_box(tb.try_acquire(1.0, now).unwrap())
        })
    });
}

criterion_group!(benches, bench_book, bench_queues);
criterion_main!(benches);
