//! Criterion benches for the arithmetic under every protocol: field multiplication, inner
//! products, inversion, and Shamir sharing and Lagrange interpolation of whole vectors.
//!
//! `cargo bench -p sharenet-mpc --bench field`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sharenet_mpc::field::{Field, Mp127, RistrettoScalar};
use sharenet_mpc::shamir::{LagrangeCache, reconstruct, share_with_degree};

fn field_ops(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    let a: Vec<Mp127> = (0..1024).map(|_| Mp127::random(&mut rng)).collect();
    let b: Vec<Mp127> = (0..1024).map(|_| Mp127::random(&mut rng)).collect();
    let mut group = c.benchmark_group("mp127");
    group.throughput(Throughput::Elements(1024));
    group.bench_function("mul x1024", |bench| {
        bench.iter(|| {
            let mut out = [Mp127::ZERO; 1024];
            for ((o, x), y) in out.iter_mut().zip(&a).zip(&b) {
                *o = *x * *y;
            }
            black_box(out)
        })
    });
    group.bench_function("add x1024", |bench| {
        bench.iter(|| {
            let mut out = [Mp127::ZERO; 1024];
            for ((o, x), y) in out.iter_mut().zip(&a).zip(&b) {
                *o = *x + *y;
            }
            black_box(out)
        })
    });
    group.bench_function("dot 1024", |bench| {
        bench.iter(|| black_box(Mp127::dot(black_box(&a), black_box(&b))))
    });
    group.finish();
    c.bench_function("mp127 inverse", |bench| {
        bench.iter(|| black_box(black_box(a[3]).inverse()))
    });
    let ra: Vec<RistrettoScalar> = (0..1024)
        .map(|_| RistrettoScalar::random(&mut rng))
        .collect();
    let mut group = c.benchmark_group("ristretto-scalar");
    group.throughput(Throughput::Elements(1024));
    group.bench_function("mul x1024", |bench| {
        bench.iter(|| {
            let mut acc = RistrettoScalar::ONE;
            for x in &ra {
                acc *= *x;
            }
            black_box(acc)
        })
    });
    group.finish();
}

fn sharing(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(2);
    let values: Vec<Mp127> = (0..10_000).map(|_| Mp127::random(&mut rng)).collect();
    let mut group = c.benchmark_group("shamir");
    group.throughput(Throughput::Elements(values.len() as u64));
    for (n, t) in [(3usize, 1usize), (5, 2), (7, 3)] {
        group.bench_with_input(
            BenchmarkId::new("share 10^4", format!("n{n}t{t}")),
            &(n, t),
            |bench, &(n, t)| bench.iter(|| black_box(share_with_degree(n, t, &values, &mut rng))),
        );
        let shares = share_with_degree(n, t, &values, &mut StdRng::seed_from_u64(3));
        let parties: Vec<usize> = (0..=t).collect();
        let views: Vec<&[Mp127]> = shares[..=t].iter().map(Vec::as_slice).collect();
        let mut cache = LagrangeCache::new(n);
        group.bench_with_input(
            BenchmarkId::new("lagrange interpolation 10^4", format!("n{n}t{t}")),
            &t,
            |bench, &t| {
                bench.iter(|| black_box(reconstruct(&mut cache, n, t, &parties, &views).unwrap()))
            },
        );
    }
    group.finish();
}

criterion_group!(benches, field_ops, sharing);
criterion_main!(benches);
