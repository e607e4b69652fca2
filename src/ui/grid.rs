//! The account x Region grid's frame, shared by an operation's results and a stack set's
//! instances: which rows and Regions fit around the cursor, where each column goes, and the
//! titles and Region labels above the cells. What goes in a cell is each screen's own.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::format;
use super::theme::Theme;

/// Account ids are 12 digits.
pub const ACCOUNT_WIDTH: usize = 12;
/// Narrow cells: one glyph with a space either side; headers then stagger over two lines.
pub const NARROW_CELL: u16 = 3;
/// Lines above the grid rows when cells are narrow: region headers staggered over two lines,
/// then the row of Region states.
const GRID_HEADER_LINES: u16 = 3;

/// Where the grid's parts go, derived from the cursor, the sizes and the area alone.
pub struct Geometry {
    /// Width of the OU column, 0 when no row in the window has an OU.
    pub ou_width: usize,
    /// x where the first Region column starts.
    pub cells_x: u16,
    pub cell_width: u16,
    /// Headers all on one line when cells are wide enough for them.
    pub wide: bool,
    pub header_lines: u16,
    /// Window into the visible rows, and into the Regions.
    pub rows: (usize, usize),
    pub cols: (usize, usize),
}

impl Geometry {
    /// Narrow cells stagger their headers over two lines; when every Region fits in wide
    /// cells the headers take one line and the rows get the other, if that still fits.
    /// `ou_width(start, end)` is the widest OU among the visible rows in that window.
    pub fn new(
        area: Rect,
        cursor: (usize, usize),
        rows: usize,
        regions: &[String],
        ou_width: impl Fn(usize, usize) -> usize,
    ) -> Self {
        let two_line = Self::with_header_lines(area, cursor, rows, regions, &ou_width, GRID_HEADER_LINES);
        if !two_line.wide {
            return two_line;
        }
        let one_line = Self::with_header_lines(area, cursor, rows, regions, &ou_width, 2);
        if one_line.wide {
            one_line
        } else {
            two_line
        }
    }

    fn with_header_lines(
        area: Rect,
        (cursor_row, cursor_col): (usize, usize),
        rows: usize,
        regions: &[String],
        ou_width: &impl Fn(usize, usize) -> usize,
        header_lines: u16,
    ) -> Self {
        let body_height = area.height.saturating_sub(header_lines) as usize;
        let window = super::window(cursor_row, rows, body_height);
        let ou_width = ou_width(window.0, window.1);
        let left = 1 + if ou_width > 0 { ou_width + 1 } else { 0 } + ACCOUNT_WIDTH + 1;
        let cells_x = area.x + left as u16;
        let room = area.width.saturating_sub(left as u16);
        let label_width = regions
            .iter()
            .map(|r| format::region_abbrev(r).len())
            .max()
            .unwrap_or(4);
        let wide_cell = (label_width as u16 + 2).max(4);
        let wide = !regions.is_empty() && u32::from(room) >= u32::from(wide_cell) * regions.len() as u32;
        let cell_width = if wide { wide_cell } else { NARROW_CELL };
        let fit = (room / cell_width).max(1) as usize;
        let cols = super::window(cursor_col, regions.len(), fit);
        Geometry {
            ou_width,
            cells_x,
            cell_width,
            wide,
            header_lines,
            rows: window,
            cols,
        }
    }

    pub fn column_x(&self, col: usize) -> u16 {
        self.cells_x + (col - self.cols.0) as u16 * self.cell_width
    }

    /// x of the glyph inside a column: the middle of the cell.
    pub fn glyph_x(&self, col: usize) -> u16 {
        self.column_x(col) + self.cell_width / 2
    }

    /// x of the OU column and of the account column.
    pub fn label_xs(&self, area: Rect) -> (u16, u16) {
        let ou_x = area.x + 1;
        let account_x = ou_x + if self.ou_width > 0 { self.ou_width as u16 + 1 } else { 0 };
        (ou_x, account_x)
    }

    /// y of the titles' line and of the Region states' line, just above the rows.
    pub fn header_ys(&self, area: Rect) -> (u16, u16) {
        (area.y + self.header_lines - 2, area.y + self.header_lines - 1)
    }

    /// Width of an OU among the rows, as the OU column shows it.
    pub fn ou_column_width(widest: Option<usize>) -> usize {
        widest.map_or(0, |w| w.clamp(6, 24))
    }
}

/// The OU and ACCOUNT titles and the Region labels over their columns (the cursor's Region
/// highlighted; narrow cells alternate their labels between two lines).
pub fn draw_headers(
    buf: &mut Buffer,
    area: Rect,
    geometry: &Geometry,
    regions: &[String],
    cursor_col: usize,
    theme: &Theme,
) {
    let right = area.right();
    let (ou_x, account_x) = geometry.label_xs(area);
    let (title_y, _) = geometry.header_ys(area);
    if geometry.ou_width > 0 {
        buf.set_stringn(ou_x, title_y, "OU", geometry.ou_width, theme.heading());
    }
    buf.set_stringn(account_x, title_y, "ACCOUNT", ACCOUNT_WIDTH, theme.heading());
    let shown = regions.iter().enumerate().take(geometry.cols.1).skip(geometry.cols.0);
    for (col, region) in shown {
        let label = format::region_abbrev(region);
        let (x, y) = if geometry.wide {
            let x = geometry
                .glyph_x(col)
                .saturating_sub((label.len() as u16).saturating_sub(1) / 2);
            (x, title_y)
        } else {
            (geometry.column_x(col), area.y + ((col - geometry.cols.0) % 2) as u16)
        };
        let style = if col == cursor_col {
            theme.cursor_header()
        } else {
            theme.heading()
        };
        let room = right.saturating_sub(x) as usize;
        buf.set_stringn(x, y, &label, room.min(2 * NARROW_CELL as usize - 1), style);
    }
}
