"""Furniture: chair, table, bench, sofa, cabinet. Units are metres; every builder returns one part
whose box bounds it; front is +Z, up is +Y."""
from __future__ import annotations

import math

from .parts import X, Z, _Draw, _Part, _box, _capsule, _cone, _cyl, _group, _revolve, _sphere, _torus


def _chair(d: _Draw) -> _Part:
    W = d.uniform("seat_width", 0.42, 0.60, 0.48)
    D = d.uniform("seat_depth", 0.40, 0.54, 0.46)
    Hs = d.uniform("seat_height", 0.40, 0.50, 0.45)
    ts = d.uniform("seat_thickness", 0.04, 0.08, 0.05)
    Hb = d.uniform("back_height", 0.36, 0.60, 0.46)
    tilt = d.uniform("back_tilt_deg", 0.0, 15.0, 8.0)
    tb = d.uniform("back_thickness", 0.035, 0.06, 0.04)
    lw = d.uniform("leg_width", 0.038, 0.055, 0.045)
    legs = d.choice("legs", ("square", "round", "tapered", "pedestal", "sled", "rocker"), "square",
                    p=(0.28, 0.18, 0.18, 0.16, 0.1, 0.1))
    back = d.choice("back", ("panel", "slats", "ladder"), "panel", p=(0.5, 0.25, 0.25))
    n_bars = d.integer("back_bars", 2, 5, 3)
    arms = d.chance("armrests", 0.35, False)
    stretchers = d.chance("stretchers", 0.4, False)

    parts = [_box((0, Hs - ts / 2, 0), (W, ts, D), r=0.012)]
    ix, iz = W / 2 - lw / 2 - 0.015, D / 2 - lw / 2 - 0.015
    if legs in ("square", "round", "tapered", "rocker"):
        top = Hs - ts / 2
        if legs == "rocker":  # square legs standing on two arcs
            R, r = 1.0, lw * 0.5
            foot = R - math.sqrt(R * R - iz * iz) + r
            arc = _torus((ix, R + r, 0), R, r, axis=X) & _box((ix, 0.15, 0), (3 * r, 0.3, D + 0.18))
            parts.append(arc.fold(X))
            leg = _box((ix, (foot + top) / 2, iz), (lw, top - foot, lw))
        elif legs == "square":
            leg = _box((ix, top / 2, iz), (lw, top, lw))
        elif legs == "round":
            leg = _cyl((ix, top / 2, iz), lw / 2, top)
        else:  # tapered and splayed
            leg = _cone((ix + 0.025, lw * 0.3, iz + 0.025), (ix, top, iz), lw * 0.3, lw * 0.55)
        parts.append(leg.fold(X).fold(Z))
        if stretchers:
            bar = lw * 0.6
            parts += [_box((0, 0.14, iz), (2 * ix + lw / 2, bar, bar)).fold(Z),
                      _box((ix, 0.14, 0), (bar, bar, 2 * iz + lw / 2)).fold(X)]
    elif legs == "pedestal":  # office chair: gas column, hub, five spokes with casters
        parts += [_cyl((0, (0.08 + Hs - ts) / 2 + 0.005, 0), 0.028, Hs - ts - 0.07),
                  _cyl((0, 0.085, 0), 0.05, 0.05, r=0.01),
                  _box((0, Hs - ts - 0.012, 0), (W * 0.55, 0.03, D * 0.55))]
        reach = 0.6 * max(W, D)
        for k in range(5):
            a = 2 * math.pi * k / 5
            end = (reach * math.sin(a), 0.055, reach * math.cos(a))
            parts += [_capsule((0, 0.085, 0), end, 0.022), _sphere((end[0], 0.03, end[2]), 0.03)]
    else:  # sled: a bent tube on each side
        r = lw / 2
        parts.append(_group([_capsule((ix, Hs - ts / 2, iz), (ix, r, iz + 0.02), r),
                             _capsule((ix, Hs - ts / 2, -iz), (ix, r, -iz - 0.02), r),
                             _capsule((ix, r, iz + 0.04), (ix, r, -iz - 0.04), r)]).fold(X))

    # The back, built upright behind the seat, then tilted about the seat's back edge.
    zb = -D / 2 + tb / 2
    y0, y1 = Hs - ts * 0.9, Hs + Hb
    if back == "panel":
        back_parts = [_box((0, (y0 + y1) / 2, zb), (W, y1 - y0, tb), r=0.01)]
    else:
        pw, rail = max(lw, 0.04), 0.07
        back_parts = [_box((W / 2 - pw / 2, (y0 + y1) / 2, zb), (pw, y1 - y0, tb)).fold(X),
                      _box((0, y1 - rail / 2, zb), (W, rail, tb), r=0.008)]
        inner, low, high = W - 2 * pw, Hs - 0.01, y1 - rail + 0.01
        if back == "slats":
            width = min(0.045, inner / (2 * n_bars))
            for i in range(n_bars):
                x = -inner / 2 + (i + 0.5) * inner / n_bars
                back_parts.append(_box((x, (low + high) / 2, zb), (width, high - low, tb * 0.7)))
        else:  # ladder: horizontal rails under the top rail
            for i in range(1, n_bars):
                y = Hs + (y1 - rail - Hs) * i / n_bars
                back_parts.append(_box((0, y, zb), (W - pw, 0.045, tb * 0.7)))
    parts.append(_group(back_parts).rotate((1, 0, 0), -tilt, about=(0, Hs, zb)))

    if arms:
        Ha = Hs + d.uniform("arm_height", 0.18, 0.26, 0.22)
        aw = 0.05
        xa = W / 2 - aw / 2
        z0 = -D / 2 + tb - (Ha - Hs) * math.tan(math.radians(tilt)) - 0.02
        z1 = D / 2 + 0.03
        post = _box((xa, (Hs + Ha) / 2, D / 2 - 0.06), (0.04, Ha - Hs, 0.04))
        bar = _box((xa, Ha, (z0 + z1) / 2), (aw, 0.04, z1 - z0), r=0.012)
        parts.append((post | bar).fold(X))
    return _group(parts)



def _table(d: _Draw) -> _Part:
    top = d.choice("top", ("rectangular", "round"), "rectangular", p=(0.7, 0.3))
    H = d.uniform("height", 0.45, 0.78, 0.74)
    tt_ratio = d.uniform("top_thickness_ratio", 0.03, 0.045, 0.034)  # of the longest side
    parts = []
    if top == "rectangular":
        W = d.uniform("width", 1.0, 1.8, 1.4)
        D = d.uniform("depth", 0.55, 0.95, 0.8)
        tt = tt_ratio * max(W, H)
        lw = W * d.uniform("leg_width_ratio", 0.036, 0.055, 0.04)
        inset = d.uniform("leg_inset", 0.02, 0.12, 0.05)
        base = d.choice("base", ("four_legs", "round_legs", "trestle", "panels"), "four_legs",
                        p=(0.4, 0.25, 0.2, 0.15))
        parts.append(_box((0, H - tt / 2, 0), (W, tt, D), r=0.01))
        ix, iz = W / 2 - lw / 2 - inset, D / 2 - lw / 2 - inset
        leg_top = H - tt / 2
        if base in ("four_legs", "round_legs"):
            leg = (_box((ix, leg_top / 2, iz), (lw, leg_top, lw)) if base == "four_legs"
                   else _cyl((ix, leg_top / 2, iz), lw * 0.55, leg_top))
            parts.append(leg.fold(X).fold(Z))
            if d.chance("apron", 0.55, True):
                ah, at = d.uniform("apron_height", 0.06, 0.12, 0.08), lw * 0.5
                y = H - tt - ah / 2 + 0.005
                parts += [_box((0, y, iz + lw / 4), (2 * ix, ah, at)).fold(Z),
                          _box((ix + lw / 4, y, 0), (at, ah, 2 * iz)).fold(X)]
            if d.chance("shelf", 0.2, False):
                parts.append(_box((0, 0.14, 0), (2 * ix + lw * 0.5, lw * 0.5, 2 * iz + lw * 0.5)))
        elif base == "trestle":
            xt = W / 2 - inset - 0.1
            parts.append(_group([_box((xt, (0.05 + H - tt) / 2, 0), (lw, H - tt - 0.04, D * 0.35)),
                                 _box((xt, 0.03, 0), (lw * 1.3, 0.06, D * 0.85), r=0.01),
                                 _box((xt, H - tt - 0.02, 0), (lw * 1.3, 0.05, D * 0.8))]).fold(X))
            parts.append(_box((0, H * 0.35, 0), (2 * xt, 0.06, lw)))
        else:  # panels: solid side slabs and a modesty panel, like a desk
            tp = max(lw * 0.8, 0.04)
            xs = W / 2 - tp / 2 - inset * 0.3
            parts += [_box((xs, leg_top / 2, 0), (tp, leg_top, D * 0.92)).fold(X),
                      _box((0, H - tt - H * 0.22, -D / 2 + D * 0.12), (2 * xs, H * 0.44, tp * 0.7))]
        return _group(parts)

    R = d.uniform("radius", 0.4, 0.65, 0.5)
    tt = tt_ratio * max(2 * R, H)
    lw = 2 * R * d.uniform("leg_width_ratio", 0.036, 0.055, 0.04)
    base = d.choice("base", ("pedestal", "three_legs", "four_legs"), "pedestal", p=(0.5, 0.25, 0.25))
    parts.append(_cyl((0, H - tt / 2, 0), R, tt, r=0.01))
    if base == "pedestal":
        cr = R * d.uniform("column_ratio", 0.1, 0.18, 0.13)
        rb = R * d.uniform("foot_ratio", 0.45, 0.7, 0.55)
        parts += [_cyl((0, H / 2, 0), cr, H - tt / 2), _cyl((0, H - tt - 0.015, 0), cr * 2.2, 0.04)]
        if d.choice("foot", ("disc", "cross"), "disc") == "disc":
            parts.append(_revolve([(0, 0), (rb, 0), (rb, 0.03), (cr * 1.3, 0.1), (0, 0.1)]))
        else:
            for k in range(4):
                a = math.pi / 4 + k * math.pi / 2
                parts.append(_capsule((0, 0.07, 0), (rb * math.cos(a), 0.03, rb * math.sin(a)), 0.03))
    else:
        n = 3 if base == "three_legs" else 4
        for k in range(n):
            a = 2 * math.pi * k / n
            c, s = math.cos(a), math.sin(a)
            parts.append(_capsule((R * 0.5 * c, H - tt / 2, R * 0.5 * s),
                                  (R * 0.68 * c, lw / 2, R * 0.68 * s), lw / 2))
        y_ring = H * 0.3
        f = (H - tt / 2 - y_ring) / (H - tt / 2 - lw / 2)  # where the legs cross the ring's height
        parts.append(_torus((0, y_ring, 0), R * (0.5 + 0.18 * f), lw * 0.45))
    return _group(parts)



def _bench(d: _Draw) -> _Part:
    L = d.uniform("length", 1.2, 1.9, 1.5)
    D = d.uniform("seat_depth", 0.36, 0.5, 0.42)
    Hs = d.uniform("seat_height", 0.4, 0.48, 0.44)
    m = L * d.uniform("member_ratio", 0.036, 0.05, 0.04)  # frame members' section
    seat = d.choice("seat", ("slats", "plank"), "slats", p=(0.65, 0.35))
    supports = d.choice("supports", ("frames", "legs", "slabs"), "frames", p=(0.5, 0.3, 0.2))
    overhang = d.uniform("overhang", 0.06, 0.2, 0.12)
    has_back = d.chance("backrest", 0.6, True)
    ts = m * 0.85
    xf = L / 2 - overhang - m / 2
    parts = []
    if seat == "slats":
        n = d.integer("seat_slats", 3, 5, 4)
        gap = d.uniform("slat_gap", 0.02, 0.04, 0.03)
        depth = (D - (n - 1) * gap) / n
        for i in range(n):
            z = -D / 2 + depth / 2 + i * (depth + gap)
            parts.append(_box((0, Hs - ts / 2, z), (L, ts, depth), r=0.006))
    else:
        parts.append(_box((0, Hs - ts * 0.65, 0), (L, ts * 1.3, D), r=0.01))
    rail_y = Hs - ts - m / 2 + 0.01
    zl = D / 2 - m / 2 - 0.02
    if supports == "frames":  # cast end frames: two legs, a seat rail and a floor runner
        frame = [_box((xf, rail_y, 0), (m, m, D)),
                 _box((xf, rail_y / 2, zl), (m, rail_y, m)), _box((xf, rail_y / 2, -zl), (m, rail_y, m)),
                 _box((xf, m * 0.3, 0), (m, m * 0.6, D * 0.95))]
        if d.chance("armrests", 0.5, True):
            ya = Hs + 0.22
            frame += [_box((xf, (rail_y + ya) / 2, zl), (m * 0.8, ya - rail_y, m * 0.8)),
                      _box((xf, ya, -0.04), (m, m * 0.7, D + 0.02), r=0.01)]
        parts.append(_group(frame).fold(X))
    elif supports == "legs":
        low = rail_y * 0.35
        end_rails = [_box((xf, rail_y, 0), (m, m, D)), _box((xf, low, 0), (m * 0.7, m * 0.7, 2 * zl))]
        parts += [_group(end_rails).fold(X),
                  _box((xf, rail_y / 2, zl), (m, rail_y, m)).fold(X).fold(Z),
                  _box((0, low, 0), (2 * xf, m * 0.7, m * 0.7))]
    else:  # slabs
        parts.append(_box((xf, (Hs - ts) / 2 + 0.005, 0), (m * 1.4, Hs - ts + 0.01, D * 0.9)).fold(X))
    if has_back:
        Hb = d.uniform("back_height", 0.28, 0.45, 0.36)
        tilt = d.uniform("back_tilt_deg", 5.0, 18.0, 12.0)
        nb = d.integer("back_slats", 1, 3, 3)
        zp = -D / 2 + m / 2
        y0, y1 = Hs - ts - m, Hs + Hb
        back = [_box((xf, (y0 + y1) / 2, zp), (m, y1 - y0, m)).fold(X)]
        span = Hb - 0.06
        height = (span - (nb - 1) * 0.03) / nb
        for i in range(nb):
            y = y1 - height / 2 - i * (height + 0.03)
            back.append(_box((0, y, zp + m / 2 + ts / 2 - 0.01), (L, height, ts), r=0.006))
        parts.append(_group(back).rotate((1, 0, 0), -tilt, about=(0, Hs, zp)))
    return _group(parts)



def _sofa(d: _Draw) -> _Part:
    L = d.uniform("length", 1.5, 2.4, 2.0)
    D = d.uniform("depth", 0.8, 1.0, 0.9)
    lh = d.uniform("leg_height", 0.04, 0.16, 0.1)
    Hs = d.uniform("seat_height", 0.38, 0.48, 0.44)
    Hb = d.uniform("back_top", 0.72, 0.95, 0.84)
    tb = d.uniform("back_thickness", 0.15, 0.25, 0.2)
    ch = d.uniform("cushion_height", 0.1, 0.16, 0.13)
    arm = d.choice("arms", ("square", "rolled", "low", "none"), "square", p=(0.45, 0.3, 0.15, 0.1))
    aw = d.uniform("arm_width", 0.12, 0.24, 0.17) if arm != "none" else 0.0
    Ha = d.uniform("arm_height", 0.56, 0.7, 0.62) if arm != "low" else Hs + 0.1
    n = d.integer("seat_cushions", 1, 3, 3)
    back_cushions = d.chance("back_cushions", 0.6, True)
    legs = d.choice("base", ("legs", "plinth"), "legs", p=(0.7, 0.3))

    y_base = Hs - ch + 0.01
    parts = [_box((0, (lh + y_base) / 2, 0), (L, y_base - lh, D), r=0.03),
             _box((0, (lh + Hb) / 2, -D / 2 + tb / 2), (L, Hb - lh, tb), r=0.06)]
    if arm in ("square", "low"):
        parts.append(_box((L / 2 - aw / 2, (lh + Ha) / 2, 0), (aw, Ha - lh, D), r=0.05).fold(X))
    elif arm == "rolled":
        roll = aw * 0.6
        parts.append(_group([_box((L / 2 - aw / 2, (lh + Ha - roll) / 2, 0), (aw, Ha - roll - lh, D), r=0.04),
                             _cyl((L / 2 - roll, Ha - roll, 0), roll, D, axis=Z, r=0.04)]).fold(X))
    inner = L - 2 * aw
    gap = 0.015
    width = (inner - (n - 1) * gap) / n
    for i in range(n):
        x = -inner / 2 + width / 2 + i * (width + gap)
        z0, z1 = -D / 2 + tb - 0.01, D / 2 + 0.01
        parts.append(_box((x, Hs - ch / 2 - 0.005, (z0 + z1) / 2), (width, ch + 0.01, z1 - z0), r=0.045))
        if back_cushions:
            cushion = _box((x, (Hs - 0.02 + Hb - 0.04) / 2, -D / 2 + tb + 0.06),
                           (width, Hb - 0.04 - Hs + 0.02, 0.16), r=0.06)
            parts.append(cushion.rotate((1, 0, 0), -8.0, about=(x, Hs, -D / 2 + tb)))
    if legs == "legs":
        rl = L * 0.018
        parts.append(_cyl((L / 2 - 0.07, (lh + 0.02) / 2, D / 2 - 0.07), rl, lh + 0.02).fold(X).fold(Z))
    else:
        parts.append(_box((0, (lh + 0.02) / 2, 0), (L - 0.1, lh + 0.02, D - 0.1)))
    return _group(parts)



_CABINET_STYLES = {  # width, height, depth ranges
    "cupboard": ((0.8, 1.1), (0.8, 1.2), (0.4, 0.55)),
    "wardrobe": ((0.9, 1.4), (1.7, 2.0), (0.5, 0.62)),
    "dresser": ((0.9, 1.5), (0.7, 1.0), (0.42, 0.52)),
    "sideboard": ((1.4, 1.9), (0.7, 0.9), (0.4, 0.5)),
    "filing": ((0.4, 0.5), (0.7, 1.35), (0.55, 0.65)),
}



def _cabinet(d: _Draw) -> _Part:
    style = d.choice("style", tuple(_CABINET_STYLES), "cupboard", p=(0.3, 0.2, 0.2, 0.15, 0.15))
    (w_rng, h_rng, d_rng) = _CABINET_STYLES[style]
    W, H, D = d.uniform("width", *w_rng), d.uniform("height", *h_rng), d.uniform("depth", *d_rng)
    size = max(W, H)
    base = d.choice("base", ("plinth", "legs", "none"), "plinth", p=(0.5, 0.3, 0.2))
    bh = {"plinth": d.uniform("plinth_height", 0.05, 0.1, 0.07), "none": 0.0,
          "legs": d.uniform("leg_height", 0.08, 0.2, 0.12)}[base]
    top_slab = d.chance("top_slab", 0.5, True) and style != "filing"
    # The front's rows, top to bottom: (height fraction, "doors" | "drawers", count).
    if style == "cupboard":
        rows = [(1.0, "doors", 2)]
        if d.chance("drawer_row", 0.6, True):
            rows = [(0.25, "drawers", 2), (0.75, "doors", 2)]
    elif style == "wardrobe":
        doors = 3 if W > 1.2 else 2
        rows = [(1.0, "doors", doors)]
        if d.chance("drawer_row", 0.4, False):
            rows = [(0.82, "doors", doors), (0.18, "drawers", 2)]
    elif style == "dresser":
        k = d.integer("drawer_rows", 3, 4, 3)
        rows = [(1 / k, "drawers", d.integer("top_drawers", 1, 3, 2))] + [(1 / k, "drawers", 1)] * (k - 1)
    elif style == "sideboard":
        k = d.integer("columns", 3, 4, 3)
        rows = [(1.0, "doors", k)]
        if d.chance("drawer_row", 0.5, True):
            rows = [(0.3, "drawers", k), (0.7, "doors", k)]
    else:
        k = max(2, min(4, int(round(H / 0.33))))
        rows = [(1 / k, "drawers", 1)] * k
    pd = 0.025
    g = size * 0.01
    hs = 0.03 if top_slab else 0.0
    parts = [_box((0, bh + (H - bh - hs) / 2, -pd / 2), (W, H - bh - hs, D - pd), r=0.008)]
    if top_slab:
        parts.append(_box((0, H - hs / 2, 0.01), (W + 0.03, hs, D + 0.02), r=0.008))
    if base == "plinth":
        parts.append(_box((0, bh / 2 + 0.005, -0.02), (W - 0.06, bh + 0.01, D - 0.08)))
    elif base == "legs":
        xl, zl = W / 2 - 0.05, D / 2 - 0.06
        parts.append(_cone((xl, 0.018, zl), (xl, bh + 0.01, zl), 0.018, 0.028).fold(X).fold(Z))
    y = H - hs - 0.02
    front_h = H - hs - 0.02 - bh - 0.02
    hw = size * 0.022  # handle section
    for frac, kind, count in rows:
        h = front_h * frac
        w = (W - 0.04) / count
        for i in range(count):
            xc = -W / 2 + 0.02 + w * (i + 0.5)
            yc = y - h / 2
            parts.append(_box((xc, yc, D / 2 - pd), (w - 2 * g, h - 2 * g, 2 * pd)))
            if kind == "drawers":
                parts.append(_box((xc, yc + h * 0.1, D / 2 + 0.012), (min(w * 0.4, 0.16), hw, 0.03), r=0.006))
            else:
                side = 1 if i < count / 2 else -1  # handles toward the middle
                xh = xc + side * (w / 2 - g - 0.05)
                parts.append(_box((xh, yc + h * (0.25 if h > 1.0 else 0.15), D / 2 + 0.012),
                                  (hw, min(h * 0.25, 0.2), 0.03), r=0.006))
        y -= h
    return _group(parts)
