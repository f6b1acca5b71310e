//! SQL `LIKE` matching for frame names (`%` any run, `_` one character).

/// A compiled `LIKE` pattern.
#[derive(Debug, Clone)]
pub struct LikePattern {
    parts: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    One,
    Any,
}

impl LikePattern {
    pub fn new(pattern: &str) -> Self {
        let mut parts = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            parts.push(match c {
                '%' => Token::Any,
                '_' => Token::One,
                '\\' => Token::Literal(chars.next().unwrap_or('\\')),
                c => Token::Literal(c),
            });
        }
        LikePattern { parts }
    }

    pub fn matches(&self, s: &str) -> bool {
        let text: Vec<char> = s.chars().collect();
        // Classic wildcard matching with backtracking on the last `%`.
        let (mut t, mut p) = (0usize, 0usize);
        let (mut star, mut mark) = (None::<usize>, 0usize);
        while t < text.len() {
            match self.parts.get(p) {
                Some(Token::Literal(c)) if *c == text[t] => {
                    t += 1;
                    p += 1;
                }
                Some(Token::One) => {
                    t += 1;
                    p += 1;
                }
                Some(Token::Any) => {
                    star = Some(p);
                    mark = t;
                    p += 1;
                }
                _ => match star {
                    Some(sp) => {
                        p = sp + 1;
                        mark += 1;
                        t = mark;
                    }
                    None => return false,
                },
            }
        }
        self.parts[p..].iter().all(|x| *x == Token::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::LikePattern;

    #[test]
    fn like_semantics() {
        assert!(LikePattern::new("runtime.mallocgc").matches("runtime.mallocgc"));
        assert!(!LikePattern::new("runtime.malloc").matches("runtime.mallocgc"));
        assert!(LikePattern::new("runtime.%").matches("runtime.mallocgc"));
        assert!(LikePattern::new("%mallocgc").matches("runtime.mallocgc"));
        assert!(LikePattern::new("%.(*Mutex).%").matches("sync.(*Mutex).Lock"));
        assert!(LikePattern::new("main.spi_").matches("main.spin"));
        assert!(!LikePattern::new("main.spi_").matches("main.spinx"));
        assert!(LikePattern::new("%").matches(""));
    }
}
