#!/usr/bin/env python3
"""Writes reference.csv: a fixed OHLCV series and the indicator values that independent,
widely used libraries compute for it. The Swift tests compare ASTIndicators against it.

Test oracle only; not part of AST. Produced with Python 3.12 and exactly:

    python3.12 -m venv /tmp/ta312
    /tmp/ta312/bin/pip install TA-Lib==0.8.2 ta==0.11.0 pandas-ta==0.4.71b0 pandas==3.1.1 numpy==2.2.6
    /tmp/ta312/bin/python Tests/ASTIndicatorsTests/Fixtures/make_reference.py \
        > Tests/ASTIndicatorsTests/Fixtures/reference.csv

Sources per column (see also the comments in ReferenceTests.swift):
  sma_20, ema_10, rsi_14, atr_14, bb_*_20_2  TA-Lib (the C library bundled in the TA-Lib 0.8.2 wheel):
                                             SMA, EMA, RSI, ATR, BBANDS(nbdevup=nbdevdn=2, matype=SMA)
  macd_*_12_26_9                             TA-Lib EMA(12) - EMA(26), signal = TA-Lib EMA(9) of that
                                             line (TA-Lib's own MACD() seeds the fast EMA at the slow
                                             EMA's start bar instead, a TA-Lib-specific deviation)
  adx_14, plus_di_14, minus_di_14            `ta` (bukosabino) ADXIndicator: Wilder's seeding with
                                             plain sums of the first 14 TR/DM values, as StockCharts
  kdj_*_9_3_3                                pandas-ta kdj(length=9, signal=3); it seeds K and D with
                                             the first RSV instead of 50, so the test only compares
                                             bars where that seed has decayed below 1e-12
  supertrend_10_3, supertrend_dir_10_3       the Pine source of TradingView's ta.supertrend()
                                             transcribed line by line below, over TA-Lib ATR(10)
"""
import sys

import numpy as np
import pandas as pd
import pandas_ta as pta
import talib
from ta.trend import ADXIndicator

N = 400


def series():
    """A random walk with a 48271 Park-Miller generator, so the input is reproducible anywhere.
    Prices have two decimals; every high >= max(open, close) and low <= min(open, close)."""
    state = 20240601

    def uniform():
        nonlocal state
        state = state * 48271 % 2147483647
        return state / 2147483647

    rows, close = [], 100.0
    for _ in range(N):
        open_ = round(close * (1 + (uniform() - 0.5) * 0.02), 2)
        close = round(open_ * (1 + (uniform() - 0.5) * 0.06), 2)
        high = round(max(open_, close) * (1 + uniform() * 0.015), 2)
        low = round(min(open_, close) * (1 - uniform() * 0.015), 2)
        volume = int(100_000 + uniform() * 900_000)
        rows.append((open_, high, low, close, volume))
    return rows


def pine_supertrend(h, l, c, atr, factor):
    """TradingView Pine v5 reference manual, ta.supertrend, the 'pine_supertrend' example:
        src = hl2
        upperBand = src + factor * atr ; lowerBand = src - factor * atr
        prevLowerBand = nz(lowerBand[1]) ; prevUpperBand = nz(upperBand[1])
        lowerBand := lowerBand > prevLowerBand or close[1] < prevLowerBand ? lowerBand : prevLowerBand
        upperBand := upperBand < prevUpperBand or close[1] > prevUpperBand ? upperBand : prevUpperBand
        if na(atr[1]) direction := 1
        else if prevSuperTrend == prevUpperBand  direction := close > upperBand ? -1 : 1
        else direction := close < lowerBand ? 1 : -1
        superTrend := direction == -1 ? lowerBand : upperBand
    Pine's direction -1 is an up-trend; the fixture writes AST's convention (+1 up, -1 down)."""
    n = len(c)
    st, dirs = [np.nan] * n, [np.nan] * n
    upper, lower = [np.nan] * n, [np.nan] * n
    for i in range(n):
        if np.isnan(atr[i]):
            continue
        src = (h[i] + l[i]) / 2
        ub, lb = src + factor * atr[i], src - factor * atr[i]
        prev_lb = 0.0 if i == 0 or np.isnan(lower[i - 1]) else lower[i - 1]
        prev_ub = 0.0 if i == 0 or np.isnan(upper[i - 1]) else upper[i - 1]
        lb = lb if (lb > prev_lb or c[i - 1] < prev_lb) else prev_lb
        ub = ub if (ub < prev_ub or c[i - 1] > prev_ub) else prev_ub
        if i == 0 or np.isnan(atr[i - 1]):
            direction = 1
        elif st[i - 1] == prev_ub:
            direction = -1 if c[i] > ub else 1
        else:
            direction = 1 if c[i] < lb else -1
        upper[i], lower[i] = ub, lb
        st[i] = lb if direction == -1 else ub
        dirs[i] = -direction
    return st, dirs


def main():
    rows = series()
    o, h, l, c = (np.array([r[k] for r in rows], dtype=float) for k in range(4))
    cols = {}
    cols["sma_20"] = talib.SMA(c, 20)
    cols["ema_10"] = talib.EMA(c, 10)
    cols["rsi_14"] = talib.RSI(c, 14)
    cols["atr_14"] = talib.ATR(h, l, c, 14)
    up, mid, lo = talib.BBANDS(c, 20, 2.0, 2.0, matype=0)
    cols["bb_middle_20_2"], cols["bb_upper_20_2"], cols["bb_lower_20_2"] = mid, up, lo
    line = talib.EMA(c, 12) - talib.EMA(c, 26)
    signal = np.full(N, np.nan)
    signal[25:] = talib.EMA(line[25:], 9)
    cols["macd_12_26_9"] = np.where(np.isnan(signal), np.nan, line)
    cols["macd_signal_12_26_9"] = signal
    cols["macd_hist_12_26_9"] = line - signal
    adx = ADXIndicator(pd.Series(h), pd.Series(l), pd.Series(c), window=14)
    a, p, m = (s.to_numpy(dtype=float, copy=True) for s in (adx.adx(), adx.adx_pos(), adx.adx_neg()))
    # `ta` writes 0 where it has no value yet; its first value is at index 2n-1 for ADX and
    # (an off-by-one in `ta`) at index n+1 for the DIs.
    a[:27] = np.nan
    p[:15] = np.nan
    m[:15] = np.nan
    cols["adx_14"], cols["plus_di_14"], cols["minus_di_14"] = a, p, m
    kdj = pta.kdj(pd.Series(h), pd.Series(l), pd.Series(c), length=9, signal=3)
    cols["kdj_k_9_3_3"], cols["kdj_d_9_3_3"], cols["kdj_j_9_3_3"] = (kdj.iloc[:, k].to_numpy() for k in range(3))
    cols["supertrend_10_3"], cols["supertrend_dir_10_3"] = pine_supertrend(h, l, c, talib.ATR(h, l, c, 10), 3.0)

    out = sys.stdout
    out.write(",".join(["open", "high", "low", "close", "volume"] + list(cols)) + "\n")
    for i, r in enumerate(rows):
        vals = [f"{r[0]:.2f}", f"{r[1]:.2f}", f"{r[2]:.2f}", f"{r[3]:.2f}", str(r[4])]
        vals += ["" if np.isnan(cols[k][i]) else repr(float(cols[k][i])) for k in cols]
        out.write(",".join(vals) + "\n")


main()
