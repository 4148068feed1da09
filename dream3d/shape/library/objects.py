"""Household and handheld objects: rifle, display, loudspeaker, lamp, telephone. Units are metres;
every builder returns one part whose box bounds it; front is +Z, up is +Y."""
from __future__ import annotations

import math

from .parts import (X, Y, Z, _Draw, _Part, _box, _capsule, _cone, _cyl, _extrude, _group, _poly, _revolve,
    _rrect, _sphere, _torus)



def _rifle(d: _Draw) -> _Part:
    style = d.choice("style", ("hunting", "assault", "shotgun"), "hunting", p=(0.45, 0.35, 0.2))
    parts = []
    barrel_len = d.uniform("barrel_length", 0.45, 0.7, 0.58)
    rb_ratio = d.uniform("barrel_radius_ratio", 0.018, 0.022, 0.019)  # of the overall length
    tx = d.uniform("stock_thickness", 0.05, 0.065, 0.055)
    if style in ("hunting", "shotgun"):
        stock = d.uniform("stock_length", 0.32, 0.42, 0.38)
        rb = rb_ratio * (0.22 + stock + barrel_len)
        drop = d.uniform("stock_drop", 0.02, 0.07, 0.045)
        fore = d.uniform("forend_length", 0.2, 0.32, 0.27)
        zb = -0.12 - stock
        profile = [(zb, 0.025 - drop), (-0.16, 0.02), (-0.12, 0.03), (0.1, 0.012), (fore, 0.01),
                   (fore + 0.015, -0.01), (fore, -0.03), (0.02, -0.045), (-0.06, -0.05), (-0.11, -0.055),
                   (-0.15, -0.1), (-0.2, -0.09), (zb + 0.02, -0.14 - drop), (zb, -0.13 - drop)]
        parts.append(_extrude(_poly(profile), (Z, Y), tx - 0.01, r=0.005))
        parts.append(_capsule((0, 0.03, -0.13), (0, 0.03, 0.1), 0.024))
        parts.append(_box((0, -0.07, -0.085), (0.022, 0.045, 0.05), r=0.008))
        if style == "hunting":
            parts.append(_cyl((0, 0.03, (0.05 + 0.1 + barrel_len) / 2), rb, barrel_len + 0.05, axis=Z))
            if d.chance("scope", 0.6, True):
                ys = 0.03 + 0.024 + 0.04
                parts += [_cyl((0, ys, 0.0), 0.022, 0.2, axis=Z),
                          _cone((0, ys, 0.08), (0, ys, 0.15), 0.02, 0.03),
                          _cone((0, ys, -0.08), (0, ys, -0.14), 0.02, 0.026),
                          _box((0, (0.03 + ys) / 2, 0.05), (0.036, ys - 0.03, 0.035)),
                          _box((0, (0.03 + ys) / 2, -0.06), (0.036, ys - 0.03, 0.035))]
            else:
                parts.append(_box((0, 0.03 + rb + 0.01, 0.1 + barrel_len - 0.02), (0.015, 0.025, 0.02)))
        else:  # shotgun: side-by-side or pump
            if d.choice("action", ("double", "pump"), "double") == "double":
                parts.append(_cyl((rb * 0.95, 0.03, (0.08 + 0.1 + barrel_len) / 2), rb, barrel_len + 0.02,
                                  axis=Z).fold(X))
                parts.append(_box((0, 0.03, 0.0), (4 * rb, 2 * rb, 0.2), r=0.01))
            else:
                parts += [_cyl((0, 0.03, (0.05 + 0.1 + barrel_len) / 2), rb, barrel_len + 0.05, axis=Z),
                          _cyl((0, 0.03 - 2 * rb, (0.1 + 0.1 + barrel_len * 0.8) / 2), rb * 0.9,
                               barrel_len * 0.8, axis=Z),
                          _cyl((0, 0.03 - 2 * rb, fore + 0.15), rb * 1.6, 0.18, axis=Z, r=0.01)]
        return _group(parts)

    # assault: boxy receiver, pistol grip, magazine, straight stock, handguard
    stock_len = d.uniform("stock_length", 0.24, 0.34, 0.28)
    rb = rb_ratio * (0.36 + stock_len + barrel_len)
    mag_len = d.uniform("magazine_length", 0.13, 0.2, 0.16)
    mag_curve = d.uniform("magazine_curve", 0.0, 0.06, 0.03)
    handle = d.chance("carry_handle", 0.4, False)
    parts.append(_box((0, 0.0, -0.02), (tx, 0.08, 0.32), r=0.01))
    parts.append(_extrude(_poly([(-0.17, 0.03), (-0.17 - stock_len, 0.035), (-0.17 - stock_len, -0.09),
                                 (-0.17 - stock_len + 0.03, -0.095), (-0.17, -0.02)]),
                          (Z, Y), tx - 0.01, r=0.005))
    parts.append(_extrude(_poly([(-0.07, -0.03), (-0.03, -0.03), (-0.07, -0.15), (-0.11, -0.15)]),
                          (Z, Y), tx * 0.75, r=0.006))
    parts.append(_extrude(_poly([(0.03, -0.03), (0.09, -0.03), (0.09 + mag_curve, -0.03 - mag_len),
                                 (0.04 + mag_curve * 1.3, -0.03 - mag_len)]), (Z, Y), tx * 0.6, r=0.005))
    zb0 = 0.14
    parts += [_cyl((0, 0.02, zb0 + 0.12), 0.034, 0.25, axis=Z, r=0.01),
              _cyl((0, 0.02, (zb0 + zb0 + barrel_len) / 2), rb, barrel_len, axis=Z),
              _cyl((0, 0.02, zb0 + barrel_len + 0.02), rb * 1.3, 0.06, axis=Z),
              _box((0, 0.02 + 0.04, zb0 + barrel_len - 0.08), (0.015, 0.08, 0.02))]
    if handle:
        parts += [_box((0, 0.08, -0.02), (0.035, 0.03, 0.2)),
                  _box((0, 0.055, -0.1), (0.035, 0.05, 0.035)), _box((0, 0.055, 0.06), (0.035, 0.05, 0.035))]
    return _group(parts)



def _display(d: _Draw) -> _Part:
    style = d.choice("style", ("monitor", "tv", "crt"), "monitor", p=(0.5, 0.35, 0.15))
    aspect = d.choice("aspect", (16 / 9, 16 / 10, 21 / 9, 4 / 3), 16 / 9, p=(0.5, 0.2, 0.1, 0.2))
    if style == "crt":
        aspect = d.values["aspect"] = 4 / 3
    W = d.uniform("width", 0.45, 0.7, 0.6) if style != "tv" else d.uniform("width", 0.9, 1.3, 1.1)
    Hp = W / aspect
    tp = W * d.uniform("thickness_ratio", 0.04, 0.065, 0.05)
    bezel = W * d.uniform("bezel_ratio", 0.015, 0.04, 0.025)
    lift = W * d.uniform("lift_ratio", 0.08, 0.22, 0.15)
    base_t = W * 0.04
    yc = base_t + lift + Hp / 2
    panel = _box((0, yc, 0), (W, Hp, tp), r=min(0.01, tp / 3))
    screen = _box((0, yc, tp / 2), (W - 2 * bezel, Hp - 2 * bezel, tp * 0.6))
    parts = [panel - screen]
    if style == "crt":
        depth = W * d.uniform("depth_ratio", 0.6, 0.85, 0.7)
        back = (_extrude(_poly([(-tp / 2 + 0.01, yc - Hp / 2 + 0.01), (-tp / 2 + 0.01, yc + Hp / 2 - 0.01),
                                (-depth, yc + Hp * 0.22), (-depth, yc - Hp * 0.32)]), (Z, Y), W - 0.02)
                & _extrude(_poly([(-W / 2 + 0.01, -tp / 2 + 0.02), (W / 2 - 0.01, -tp / 2 + 0.02),
                                  (W * 0.3, -depth), (-W * 0.3, -depth)]), (X, Z), 2 * yc + Hp))
        stand_top = yc - Hp * 0.3
        parts += [back.round(0.01),
                  _box((0, stand_top / 2, -depth / 2), (W * 0.5, stand_top, depth * 0.6), r=0.01)]
        return _group(parts)
    stand = d.choice("stand", ("neck", "feet"), "neck" if style == "monitor" else "feet",
                     p=(0.8, 0.2) if style == "monitor" else (0.4, 0.6))
    if d.chance("back_housing", 0.6, True):
        parts.append(_box((0, yc - Hp * 0.05, -tp / 2 - W * 0.02), (W * 0.4, Hp * 0.45, W * 0.05), r=0.015))
    if stand == "neck":
        nw, nt = W * 0.1, W * 0.035
        zn = -tp / 2 - nt * 0.3
        parts.append(_box((0, (base_t / 2 + yc) / 2, zn), (nw, yc - base_t / 2, nt), r=0.006))
        if d.choice("base", ("plate", "disc"), "plate") == "plate":
            parts.append(_box((0, base_t / 2, zn + W * 0.06), (W * 0.36, base_t, W * 0.26), r=0.01))
        else:
            parts.append(_cyl((0, base_t / 2, zn + W * 0.05), W * 0.16, base_t, r=0.008))
    else:
        xf = W * d.uniform("feet_spread", 0.3, 0.42, 0.38)
        foot_y = yc - Hp / 2 + 0.02
        rf = W * 0.02
        front, back = (xf - W * 0.03, rf, W * 0.1), (xf - W * 0.03, rf, -W * 0.12)
        parts.append(_group([_capsule((xf, foot_y, 0), front, rf), _capsule((xf, foot_y, 0), back, rf),
                             _capsule(front, back, rf)]).fold(X))
    return _group(parts)



def _driver(center_y: float, front: float, radius: float) -> tuple[_Part, list[_Part]]:
    """A cone driver on the face z = ``front``: the recess to cut and the parts to add (cap, surround)."""
    depth = radius * 0.35
    recess = _revolve([(0, -depth), (radius * 0.3, -depth), (radius * 0.92, -radius * 0.06), (radius, 0.0),
                       (radius, 0.05), (0, 0.05)], center=(0, center_y, front), axis=Z)
    return recess, [_sphere((0, center_y, front - depth), radius * 0.24),
                    _torus((0, center_y, front - radius * 0.03), radius * 0.94, radius * 0.05, axis=Z)]



def _loudspeaker(d: _Draw) -> _Part:
    style = d.choice("style", ("bookshelf", "tower", "subwoofer"), "bookshelf", p=(0.45, 0.35, 0.2))
    if style == "bookshelf":
        W, H = d.uniform("width", 0.16, 0.24, 0.2), d.uniform("height", 0.26, 0.4, 0.32)
        D, n = d.uniform("depth", 0.18, 0.28, 0.24), 1
    elif style == "tower":
        W, H = d.uniform("width", 0.18, 0.26, 0.22), d.uniform("height", 0.8, 1.1, 0.95)
        D, n = d.uniform("depth", 0.24, 0.34, 0.28), d.integer("woofers", 2, 3, 2)
    else:
        W = d.uniform("width", 0.3, 0.42, 0.36)
        H, D, n = W, W * d.uniform("depth_ratio", 0.9, 1.1, 1.0), 1
    r = W * d.uniform("edge_round", 0.02, 0.12, 0.05)
    feet = (style != "bookshelf") or d.chance("feet", 0.2, False)
    y0 = 0.03 if feet else 0.0
    body = _box((0, y0 + H / 2, 0), (W, H, D), r=r)
    front = D / 2
    rw = W * (d.uniform("woofer_ratio", 0.33, 0.4, 0.37) if style != "subwoofer" else 0.4)
    cuts, adds = [], []
    tweeter = style != "subwoofer"
    top = y0 + H - (W * 0.22 if tweeter else H / 2)
    if tweeter:
        rt = W * 0.12
        cuts.append(_cyl((0, top, front), rt, rt * 0.6))
        adds.append(_sphere((0, top, front - rt * 0.3), rt * 0.7))
        top -= rt + W * 0.1 + rw
    for i in range(n):
        cut, add = _driver(top - i * (2 * rw + W * 0.08), front, rw)
        cuts.append(cut)
        adds += add
    port = "none" if style == "subwoofer" else d.choice("port", ("none", "round", "slot"), "round")
    yp = y0 + W * 0.12
    if port == "round":
        cuts.append(_cyl((0, yp, front), W * 0.08, 0.1, axis=Z))
    elif port == "slot":
        cuts.append(_box((0, yp, front), (W * 0.6, W * 0.05, 0.1)))
    parts = [body - cuts] + adds
    if feet:
        if style == "tower" and d.chance("plinth", 0.5, True):
            parts.append(_box((0, 0.02, 0), (W + 0.06, 0.04, D + 0.06), r=0.01))
        else:
            parts.append(_cyl((W / 2 - 0.04, 0.02, D / 2 - 0.04), 0.025, 0.04 + 0.01).fold(X).fold(Z))
    return _group(parts)



def _lamp(d: _Draw) -> _Part:
    style = d.choice("style", ("table", "floor", "desk"), "table", p=(0.5, 0.25, 0.25))
    parts = []
    if style == "desk":  # architect lamp: base, two arms, a conical head pointing down and forward
        rb = d.uniform("base_radius", 0.08, 0.1, 0.09)
        ye, ze = d.uniform("elbow_height", 0.34, 0.42, 0.38), d.uniform("elbow_back", -0.08, -0.02, -0.05)
        yh, zh = d.uniform("head_height", 0.42, 0.5, 0.46), d.uniform("head_reach", 0.08, 0.15, 0.12)
        aim = d.uniform("head_tilt_deg", 15.0, 45.0, 30.0)
        R = d.uniform("shade_radius", 0.055, 0.075, 0.065)
        parts += [_cyl((0, 0.015, 0), rb, 0.03, r=0.008), _sphere((0, 0.04, -0.02), 0.02),
                  _capsule((0, 0.04, -0.02), (0, ye, ze), 0.012), _sphere((0, ye, ze), 0.018),
                  _capsule((0, ye, ze), (0, yh, zh), 0.012), _sphere((0, yh, zh), 0.018)]
        t, hc = 0.016, R * 1.6
        head = _revolve([(0, 0.012), (0.028, 0.012), (R + t / 2, -hc), (R - t / 2, -hc), (0.022, -t),
                         (0, -t)], center=(0, yh, zh + 0.02))
        parts.append(head.rotate((1, 0, 0), -aim, about=(0, yh, zh)))
        return _group(parts)
    if style == "table":
        H = d.uniform("height", 0.5, 0.75, 0.62)
        base_kind = d.choice("base", ("disc", "vase", "column"), "vase", p=(0.35, 0.4, 0.25))
        rb = H * d.uniform("base_ratio", 0.14, 0.22, 0.17)
        Rb = H * d.uniform("shade_ratio", 0.25, 0.33, 0.29)
        hs = H * d.uniform("shade_height_ratio", 0.28, 0.4, 0.34)
        hb = H * d.uniform("body_ratio", 0.25, 0.4, 0.32)
        if base_kind == "disc":
            parts.append(_revolve([(0, 0), (rb, 0), (rb, 0.03 * H), (rb * 0.5, 0.07 * H), (0, 0.07 * H)]))
            body_top = 0.07 * H
        elif base_kind == "vase":
            parts.append(_revolve([(0, 0), (rb * 0.65, 0), (rb * 0.95, hb * 0.3), (rb, hb * 0.55),
                                   (rb * 0.75, hb * 0.85), (rb * 0.35, hb), (0, hb)]))
            body_top = hb
        else:
            parts += [_cyl((0, 0.015 * H, 0), rb, 0.03 * H, r=0.005),
                      _cyl((0, hb / 2, 0), rb * 0.45, hb, r=0.01)]
            body_top = hb
    else:
        H = d.uniform("height", 1.4, 1.8, 1.6)
        rb = H * d.uniform("base_ratio", 0.1, 0.14, 0.12)
        Rb = H * d.uniform("shade_ratio", 0.12, 0.17, 0.14)
        hs = H * d.uniform("shade_height_ratio", 0.12, 0.18, 0.15)
        parts.append(_cyl((0, 0.015 * H, 0), rb, 0.03 * H, r=0.01))
        body_top = 0.03 * H
    rp = H * 0.02
    t = H * 0.03
    y_sb = H - hs
    shade_kind = d.choice("shade", ("drum", "empire", "bowl"), "empire" if style == "table" else "drum",
                          p=(0.4, 0.4, 0.2) if style == "floor" else (0.4, 0.6, 0.0))
    if shade_kind == "bowl":  # torchiere: an open bowl on the pole, closed at the bottom
        R = Rb * 1.4
        y_b = H - hs * 0.8
        parts += [_cyl((0, (body_top + y_b) / 2 + 0.01, 0), rp, y_b - body_top + 0.02),
                  _revolve([(0, y_b - t), (R * 0.2, y_b - t), (R, H - t * 0.5), (R, H), (R - t * 1.2, H),
                            (R * 0.2 - t * 0.3, y_b), (0, y_b)])]
        return _group(parts)
    Rt = Rb * (d.uniform("shade_top_ratio", 0.55, 0.8, 0.65) if shade_kind == "empire" else 1.0)
    parts.append(_revolve([(Rb - t / 2, y_sb), (Rb + t / 2, y_sb), (Rt + t / 2, H), (Rt - t / 2, H)]))
    y_hub = y_sb + hs * 0.45
    parts += [_cyl((0, (body_top + y_hub) / 2, 0), rp, y_hub - body_top + 0.01),
              _sphere((0, y_hub, 0), rp * 2.2)]
    y_rim = H - t * 0.8
    r_rim = Rt - t * 0.2
    for k in range(3):
        a = 2 * math.pi * k / 3 + math.pi / 2
        parts.append(_capsule((0, y_hub, 0), (r_rim * math.cos(a), y_rim, r_rim * math.sin(a)), H * 0.021))
    return _group(parts)



def _telephone(d: _Draw) -> _Part:
    style = d.choice("style", ("smartphone", "cellphone", "desk"), "smartphone", p=(0.5, 0.25, 0.25))
    if style in ("smartphone", "cellphone"):
        smart = style == "smartphone"
        sizes = {"width": ((0.068, 0.078, 0.072), (0.045, 0.052, 0.048)),  # (smartphone, cellphone)
                 "height": ((0.14, 0.165, 0.15), (0.105, 0.125, 0.115)),
                 "thickness": ((0.0085, 0.012, 0.0095), (0.014, 0.019, 0.016))}
        W, H, t = (d.uniform(name, *sizes[name][0 if smart else 1]) for name in ("width", "height",
                                                                                   "thickness"))
        rc = d.uniform("corner_radius", 0.006, 0.012, 0.009)
        re_ = t * 0.3
        body = _extrude(_rrect((0, H / 2), (W - 2 * re_, H - 2 * re_), rc - re_), (X, Y), t - 2 * re_, r=re_)
        if smart:
            glass = _rrect((0, H / 2), (W - 0.006, H - 0.008), rc - 0.003)
            screen = _extrude(glass, (X, Y), t * 0.4, center=t / 2)
            cam = d.uniform("camera_size", 0.02, 0.04, 0.028)
            bump = _extrude(_rrect((-W / 2 + 0.006 + cam / 2, H - 0.006 - cam / 2), (cam, cam), 0.005),
                            (X, Y), t * 0.5, center=-t / 2)
            lens = _cyl((-W / 2 + 0.006 + cam * 0.3, H - 0.006 - cam * 0.3, -t / 2 - t * 0.25), cam * 0.2,
                        t * 0.3, axis=Z)
            return _group([body - screen, bump, lens])
        screen = _extrude(_rrect((0, H * 0.7), (W * 0.75, H * 0.3), 0.003), (X, Y), t * 0.3, center=t / 2)
        parts = [body - screen]
        for r_ in range(4):
            for c_ in range(3):
                parts.append(_box(((c_ - 1) * W * 0.27, H * (0.1 + 0.085 * r_), t / 2),
                                  (W * 0.2, H * 0.055, t * 0.35), r=0.0015))
        parts.append(_cyl((0, H * 0.46, t / 2), W * 0.13, t * 0.35, axis=Z))
        if d.chance("antenna", 0.5, True):
            parts.append(_capsule((W * 0.3, H - 0.005, 0), (W * 0.3, H + 0.012, 0), 0.0045))
        return _group(parts)
    # desk phone: a wedge base with a keypad and a handset across the top
    Wb = d.uniform("width", 0.18, 0.24, 0.21)
    Db = d.uniform("depth", 0.17, 0.22, 0.2)
    hf, hb = 0.03, d.uniform("back_height", 0.065, 0.09, 0.075)
    Lh = d.uniform("handset_length", 0.19, 0.23, 0.21)
    wedge = _poly([(-Db / 2, 0), (Db / 2, 0), (Db / 2, hf), (-Db / 2, hb)])
    base = _extrude(wedge, (Z, Y), Wb - 0.02, r=0.01)
    slope = math.degrees(math.atan2(hb - hf, Db))
    parts = [base]

    def top_at(z):
        return hf + (hb - hf) * (Db / 2 - z) / Db + 0.01
    for r_ in range(4):
        for c_ in range(3):
            z = Db / 2 - 0.03 - r_ * 0.022
            x = (c_ - 1) * 0.026 + (0.035 if Wb > 0.2 else 0.025)
            key = _box((x, top_at(z), z), (0.018, 0.012, 0.015), r=0.003)
            parts.append(key.rotate((1, 0, 0), slope, about=(x, top_at(z), z)))
    zh = -Db / 2 + 0.05
    yh = hb + 0.01 + 0.025
    parts += [_capsule((-Lh / 2 + 0.04, yh + 0.01, zh), (Lh / 2 - 0.04, yh + 0.01, zh), 0.016),
              _cyl((Lh / 2 - 0.03, yh - 0.008, zh), 0.03, 0.03, r=0.008).fold(X),
              _box((Lh / 2 - 0.03, hb + 0.005, zh), (0.05, 0.02, 0.05)).fold(X)]
    return _group(parts)
