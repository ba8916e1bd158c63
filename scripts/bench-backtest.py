#!/usr/bin/env python3
"""The Python side of `scripts/bench backtest` (M13): deterministic synthetic data, and the work
AST's research commands do, done the way users do it today with pandas + TA-Lib, backtesting.py
and backtrader. Each subcommand is one process for hyperfine to time; the standard library alone
runs `gen-*`, the others need the venv that scripts/bench makes.

  gen-daily OUT N              N daily bars (weekdays from 1970-01-05), Stooq layout
  gen-ingest DIR SESSIONS K    K files AAA..., one bar per NYSE session listed in SESSIONS
  indicators CSV OUT           the seven indicators of `ast indicators` (14 columns), %.6f
  ingest DB SESSIONS CSV...    read, validate as `ast ingest` does, write to SQLite in one transaction
  backtestingpy CSV            sma_cross(10,20) with backtesting.py; prints the trade count
  backtrader CSV               sma_cross(10,20) with backtrader; prints the trade count
  optimize CSV N               backtesting.py Backtest.optimize over N (fast, slow) combinations
"""
import sys


def lcg(seed):
    """A seeded generator independent of Python's random module version: 64-bit LCG (Knuth's MMIX)."""
    state = seed & 0xFFFFFFFFFFFFFFFF
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield (state >> 11) / float(1 << 53)


def bars(n, seed):
    """n (open, high, low, close, volume) rows: a mean-reverting walk around 50, two decimals."""
    u = lcg(seed)
    p = 50.0
    for _ in range(n):
        p = p * (1 + (next(u) - 0.5) * 0.04) + (50.0 - p) * 0.002
        p = min(max(p, 5.0), 95.0)
        o = p * (1 + (next(u) - 0.5) * 0.01)
        c = p
        h = max(o, c) * (1 + next(u) * 0.01)
        lo = min(o, c) * (1 - next(u) * 0.01)
        o, h, lo, c = (round(x, 2) for x in (o, h, lo, c))
        h = max(h, o, c)
        lo = min(lo, o, c)
        yield o, h, lo, c, int(100_000 + next(u) * 1_900_000)


def gen_daily(out, n):
    import datetime

    d = datetime.date(1970, 1, 5)
    one = datetime.timedelta(days=1)
    with open(out, "w") as f:
        f.write("Date,Open,High,Low,Close,Volume\n")
        for o, h, lo, c, v in bars(n, 13):
            while d.weekday() >= 5:
                d += one
            f.write(f"{d.isoformat()},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v}\n")
            d += one


def gen_ingest(directory, sessions_file, k):
    import os

    sessions = [line.split()[0] for line in open(sessions_file) if line.strip()]
    os.makedirs(directory, exist_ok=True)
    for i in range(k):
        name = "".join(chr(ord("A") + (i // 26**j) % 26) for j in (2, 1, 0))
        with open(f"{directory}/{name}.csv", "w") as f:
            f.write("Date,Open,High,Low,Close,Volume\n")
            for d, (o, h, lo, c, v) in zip(sessions, bars(len(sessions), 100 + i)):
                f.write(f"{d},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v}\n")


def indicators(csv, out):
    """`ast indicators --indicator sma:20 ema:20 rsi:14 macd:12,26,9 atr:14 bb:20,2 adx:14`."""
    import numpy as np
    import pandas as pd
    import talib

    df = pd.read_csv(csv)
    o, h, lo, c = (df[k].to_numpy(dtype=np.float64) for k in ("Open", "High", "Low", "Close"))
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(c, 20, 2, 2)
    res = pd.DataFrame({
        "date": df["Date"],
        "sma_20": talib.SMA(c, 20),
        "ema_20": talib.EMA(c, 20),
        "rsi_14": talib.RSI(c, 14),
        "macd_12_26_9": macd,
        "macd_signal_12_26_9": signal,
        "macd_hist_12_26_9": hist,
        "atr_14": talib.ATR(h, lo, c, 14),
        "bb_middle_20_2": middle,
        "bb_upper_20_2": upper,
        "bb_lower_20_2": lower,
        "adx_14": talib.ADX(h, lo, c, 14),
        "plus_di_14": talib.PLUS_DI(h, lo, c, 14),
        "minus_di_14": talib.MINUS_DI(h, lo, c, 14),
    })
    res.to_csv(out, index=False, float_format="%.6f", na_rep="")


def ingest(db, sessions_file, files):
    """What `ast ingest --csv` checks, then one transaction into a table like the bar store's."""
    import sqlite3
    import pandas as pd

    sessions = set(line.split()[0] for line in open(sessions_file) if line.strip())
    frames = []
    for path in files:
        df = pd.read_csv(path, dtype={"Date": str})
        for k in ("Open", "High", "Low", "Close"):
            if not (df[k] > 0).all():
                sys.exit(f"{path}: {k} not positive")
        if (df["High"] < df["Low"]).any() or ((df["Open"] < df["Low"]) | (df["Open"] > df["High"])).any() \
                or ((df["Close"] < df["Low"]) | (df["Close"] > df["High"])).any():
            sys.exit(f"{path}: a price outside the bar's range")
        if (df["Volume"] < 0).any():
            sys.exit(f"{path}: negative volume")
        dates = pd.to_datetime(df["Date"], format="%Y-%m-%d")
        if not dates.is_monotonic_increasing or dates.duplicated().any():
            sys.exit(f"{path}: out of order or duplicate")
        if not df["Date"].isin(sessions).all():
            sys.exit(f"{path}: a bar on a day without an NYSE session")
        # Prices as integer 1/10,000 units and the session's 09:30 New York start in nanoseconds, as AST stores them.
        start = (dates.dt.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30)).dt.as_unit("ns").astype("int64")
        name = path.rsplit("/", 1)[-1].split(".")[0].upper()
        frames.append(pd.DataFrame({
            "symbol": name, "resolution": "day", "start": start,
            **{k.lower(): (df[k] * 10_000).round().astype("int64") for k in ("Open", "High", "Low", "Close")},
            "volume": df["Volume"].astype("int64"),
        }))
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("""CREATE TABLE IF NOT EXISTS bars (symbol TEXT NOT NULL, resolution TEXT NOT NULL, start INTEGER NOT NULL,
        open INTEGER NOT NULL, high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL, volume INTEGER NOT NULL,
        PRIMARY KEY (symbol, resolution, start)) WITHOUT ROWID""")
    with con:
        for f in frames:
            con.executemany("INSERT OR REPLACE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?)", f.itertuples(index=False, name=None))
    con.close()
    print(f"stored {sum(len(f) for f in frames)} bars")


def ohlc_frame(csv):
    import pandas as pd

    df = pd.read_csv(csv, parse_dates=["Date"], index_col="Date")
    return df[["Open", "High", "Low", "Close", "Volume"]]


def sma_cross_class(fast_default, slow_default):
    from backtesting import Strategy
    from backtesting.lib import crossover
    import pandas as pd

    def sma(values, n):
        return pd.Series(values).rolling(n).mean()

    class SmaCross(Strategy):
        fast = fast_default
        slow = slow_default

        def init(self):
            self.f = self.I(sma, self.data.Close, self.fast)
            self.s = self.I(sma, self.data.Close, self.slow)

        def next(self):
            # Long only, 100 shares: buy after the fast SMA crosses above the slow one, sell after it crosses below.
            if crossover(self.f, self.s) and not self.position:
                self.buy(size=100)
            elif crossover(self.s, self.f) and self.position:
                self.position.close()

    # Module-level, so that optimize's worker processes can pickle it.
    SmaCross.__qualname__ = SmaCross.__name__ = "SmaCross"
    globals()["SmaCross"] = SmaCross
    return SmaCross


def backtestingpy(csv):
    import warnings
    from backtesting import Backtest

    warnings.filterwarnings("ignore")
    bt = Backtest(ohlc_frame(csv), sma_cross_class(10, 20), cash=10_000, commission=0, trade_on_close=False)
    stats = bt.run()
    print(f"trades {stats['# Trades']} equity {stats['Equity Final [$]']:.2f}")


def backtrader(csv):
    import backtrader as bt

    class SmaCross(bt.Strategy):
        def __init__(self):
            self.cross = bt.ind.CrossOver(bt.ind.SMA(period=10), bt.ind.SMA(period=20))
            self.trades = 0

        def next(self):
            if self.cross > 0 and not self.position:
                self.buy(size=100)
            elif self.cross < 0 and self.position:
                self.close()

        def notify_trade(self, trade):
            if trade.isclosed:
                self.trades += 1

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(10_000)
    cerebro.adddata(bt.feeds.PandasData(dataname=ohlc_frame(csv)))
    cerebro.addstrategy(SmaCross)
    strategy = cerebro.run()[0]
    print(f"trades {strategy.trades} equity {cerebro.broker.getvalue():.2f}")


def optimize(csv, n):
    """n combinations: fast 2..41 × slow 50, 60, ... (every fast below every slow), run on every core."""
    import warnings
    from backtesting import Backtest

    warnings.filterwarnings("ignore")
    fasts = list(range(2, 42)) if n >= 40 else list(range(2, 2 + n))
    slows = [50 + 10 * i for i in range(max(1, n // len(fasts)))]
    assert len(fasts) * len(slows) == n, "n must be below 40 or a multiple of 40"
    bt = Backtest(ohlc_frame(csv), sma_cross_class(10, 20), cash=10_000, commission=0)
    stats = bt.optimize(fast=fasts, slow=slows, maximize="Equity Final [$]", max_tries=None)
    print(f"combinations {n} best fast {stats._strategy.fast} slow {stats._strategy.slow} equity {stats['Equity Final [$]']:.2f}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen-daily":
        gen_daily(args[0], int(args[1]))
    elif cmd == "gen-ingest":
        gen_ingest(args[0], args[1], int(args[2]))
    elif cmd == "indicators":
        indicators(args[0], args[1])
    elif cmd == "ingest":
        ingest(args[0], args[1], args[2:])
    elif cmd == "backtestingpy":
        backtestingpy(args[0])
    elif cmd == "backtrader":
        backtrader(args[0])
    elif cmd == "optimize":
        optimize(args[0], int(args[1]))
    else:
        sys.exit(__doc__)
